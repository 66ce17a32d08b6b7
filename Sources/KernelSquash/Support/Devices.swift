import CKsqsh
import Glibc

/// glibc's major()/minor() are macros; the shim exposes them.
func ksqshDeviceMajor(_ device: dev_t) -> UInt32 { ksqsh_dev_major(device) }
func ksqshDeviceMinor(_ device: dev_t) -> UInt32 { ksqsh_dev_minor(device) }
