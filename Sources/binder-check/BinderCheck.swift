@main struct BinderCheck { static func main() {} }
