#ifndef KSQSH_CZSTD_SHIM_H
#define KSQSH_CZSTD_SHIM_H
#include <zstd.h>
#endif
