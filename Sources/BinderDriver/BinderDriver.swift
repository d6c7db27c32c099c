// Placeholder: replaced by the driver implementation.
