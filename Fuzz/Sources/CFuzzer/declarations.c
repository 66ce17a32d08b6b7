/* Only the declaration in CFuzzer.h: libFuzzer (-sanitize=fuzzer) defines it. */
