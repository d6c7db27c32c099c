#ifndef CBINDERHEADER_H
#define CBINDERHEADER_H
#include <stdint.h>
#include <stddef.h>
typedef struct { const char *name; uint64_t value; } binder_header_entry;
/// Every number and layout of the host's linux/android/binder.h, as (name, value) pairs.
const binder_header_entry *binder_header_table(size_t *count);
#endif
