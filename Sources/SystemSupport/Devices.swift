import CSystemShim
import Glibc

/// glibc's major()/minor() are macros; the shim exposes them.
package func ksqshDeviceMajor(_ device: dev_t) -> UInt32 { ksqsh_dev_major(device) }
package func ksqshDeviceMinor(_ device: dev_t) -> UInt32 { ksqsh_dev_minor(device) }
