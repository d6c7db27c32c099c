// Placeholder: replaced by the model implementation.
