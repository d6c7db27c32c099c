#if !LIBFUZZER_MAIN
@main struct FuzzReplay { static func main() {} }
#endif
