// Exposes the host UAPI header's numbers to Swift tests (linux-libc-dev, 6.1).
#include "CBinderHeader.h"
#include <linux/android/binder.h>
#include <linux/android/binderfs.h>

#define E(x) { #x, (uint64_t)(x) }
#define SZ(t) { "sizeof(" #t ")", sizeof(t) }
#define OFF(t, f) { "offsetof(" #t "," #f ")", offsetof(t, f) }

static const binder_header_entry table[] = {
    E(BINDER_WRITE_READ), E(BINDER_SET_IDLE_TIMEOUT), E(BINDER_SET_MAX_THREADS), E(BINDER_SET_IDLE_PRIORITY),
    E(BINDER_SET_CONTEXT_MGR), E(BINDER_THREAD_EXIT), E(BINDER_VERSION), E(BINDER_GET_NODE_DEBUG_INFO),
    E(BINDER_GET_NODE_INFO_FOR_REF), E(BINDER_SET_CONTEXT_MGR_EXT), E(BINDER_FREEZE), E(BINDER_GET_FROZEN_INFO),
    E(BINDER_ENABLE_ONEWAY_SPAM_DETECTION), E(BINDER_GET_EXTENDED_ERROR), E(BINDER_CTL_ADD),
    E(BINDER_CURRENT_PROTOCOL_VERSION),
    E(BC_TRANSACTION), E(BC_REPLY), E(BC_ACQUIRE_RESULT), E(BC_FREE_BUFFER), E(BC_INCREFS), E(BC_ACQUIRE),
    E(BC_RELEASE), E(BC_DECREFS), E(BC_INCREFS_DONE), E(BC_ACQUIRE_DONE), E(BC_ATTEMPT_ACQUIRE),
    E(BC_REGISTER_LOOPER), E(BC_ENTER_LOOPER), E(BC_EXIT_LOOPER), E(BC_REQUEST_DEATH_NOTIFICATION),
    E(BC_CLEAR_DEATH_NOTIFICATION), E(BC_DEAD_BINDER_DONE), E(BC_TRANSACTION_SG), E(BC_REPLY_SG),
    E(BR_ERROR), E(BR_OK), E(BR_TRANSACTION_SEC_CTX), E(BR_TRANSACTION), E(BR_REPLY), E(BR_ACQUIRE_RESULT),
    E(BR_DEAD_REPLY), E(BR_TRANSACTION_COMPLETE), E(BR_INCREFS), E(BR_ACQUIRE), E(BR_RELEASE), E(BR_DECREFS),
    E(BR_ATTEMPT_ACQUIRE), E(BR_NOOP), E(BR_SPAWN_LOOPER), E(BR_FINISHED), E(BR_DEAD_BINDER),
    E(BR_CLEAR_DEATH_NOTIFICATION_DONE), E(BR_FAILED_REPLY), E(BR_FROZEN_REPLY),
    E(BR_ONEWAY_SPAM_SUSPECT),
    E(BINDER_TYPE_BINDER), E(BINDER_TYPE_WEAK_BINDER), E(BINDER_TYPE_HANDLE), E(BINDER_TYPE_WEAK_HANDLE),
    E(BINDER_TYPE_FD), E(BINDER_TYPE_FDA), E(BINDER_TYPE_PTR),
    E(TF_ONE_WAY), E(TF_ROOT_OBJECT), E(TF_STATUS_CODE), E(TF_ACCEPT_FDS), E(TF_CLEAR_BUF), E(TF_UPDATE_TXN),
    E(FLAT_BINDER_FLAG_PRIORITY_MASK), E(FLAT_BINDER_FLAG_ACCEPTS_FDS), E(FLAT_BINDER_FLAG_TXN_SECURITY_CTX),
    E(BINDER_BUFFER_FLAG_HAS_PARENT),
    SZ(struct binder_write_read), SZ(struct binder_transaction_data), SZ(struct binder_transaction_data_sg),
    SZ(struct binder_transaction_data_secctx), SZ(struct flat_binder_object), SZ(struct binder_fd_object),
    SZ(struct binder_buffer_object), SZ(struct binder_fd_array_object), SZ(struct binder_ptr_cookie),
    SZ(struct binder_handle_cookie), SZ(struct binder_pri_desc), SZ(struct binder_pri_ptr_cookie),
    SZ(struct binder_version), SZ(struct binder_node_debug_info), SZ(struct binder_node_info_for_ref),
    SZ(struct binder_freeze_info), SZ(struct binder_frozen_status_info), SZ(struct binder_extended_error),
    SZ(struct binderfs_device),
    OFF(struct binder_write_read, write_size), OFF(struct binder_write_read, write_consumed),
    OFF(struct binder_write_read, write_buffer), OFF(struct binder_write_read, read_size),
    OFF(struct binder_write_read, read_consumed), OFF(struct binder_write_read, read_buffer),
    OFF(struct binder_transaction_data, target), OFF(struct binder_transaction_data, cookie),
    OFF(struct binder_transaction_data, code), OFF(struct binder_transaction_data, flags),
    OFF(struct binder_transaction_data, sender_pid), OFF(struct binder_transaction_data, sender_euid),
    OFF(struct binder_transaction_data, data_size), OFF(struct binder_transaction_data, offsets_size),
    OFF(struct binder_transaction_data, data.ptr.buffer), OFF(struct binder_transaction_data, data.ptr.offsets),
    OFF(struct flat_binder_object, hdr.type), OFF(struct flat_binder_object, flags),
    OFF(struct flat_binder_object, binder), OFF(struct flat_binder_object, handle),
    OFF(struct flat_binder_object, cookie),
};

const binder_header_entry *binder_header_table(size_t *count) {
    *count = sizeof(table) / sizeof(table[0]);
    return table;
}
