//! Plain values shared by every carepost crate: newtype IDs, mail addresses and domains, time
//! as integer milliseconds, and the `Clock` and `Rng` traits through which time and randomness
//! enter the rest of the code (STYLE.md rule 10).
//!
//! This crate performs no I/O apart from reading the system clock and the operating system's
//! random source inside `SystemClock` and `OsRng`.

mod clock;
mod counted;
pub mod email;
mod ids;
mod rng;

pub use clock::{Clock, ManualClock, SystemClock, UnixMillis};
pub use counted::{Counted, Slot};
pub use email::{Address, AddressError, Domain, LocalPart};
pub use ids::{AccountId, AuditSeq, DepartmentId};
pub use rng::{OsRng, Rng, SeededRng};
