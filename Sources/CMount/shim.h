#ifndef KSQSH_CMOUNT_SHIM_H
#define KSQSH_CMOUNT_SHIM_H
#include <libmount.h>
#endif
