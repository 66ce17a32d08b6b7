#ifndef KSQSH_CZLIB_SHIM_H
#define KSQSH_CZLIB_SHIM_H
#include <zlib.h>
#endif
