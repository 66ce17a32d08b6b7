#ifndef KSQSH_CLZMA_SHIM_H
#define KSQSH_CLZMA_SHIM_H
#include <lzma.h>

/* LZMA_CONCATENATED is a UINT32_C() macro, which Swift cannot import. */
static const uint32_t ksqsh_lzma_concatenated = LZMA_CONCATENATED;

#endif
