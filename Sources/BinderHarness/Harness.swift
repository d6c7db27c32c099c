import BinderUAPI
