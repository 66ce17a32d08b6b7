#ifndef KSQSH_CFUZZER_H
#define KSQSH_CFUZZER_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry point for programs with their own main (compiler-rt's
   FuzzerInterface.h declares it the same way): parses the libFuzzer flags in
   argv and runs `callback` on every input. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
