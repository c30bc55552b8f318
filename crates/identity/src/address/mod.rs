//! The address policy: how a person's name becomes a local part (`normalize`), and the
//! deterministic order of candidates when that one is taken (`policy`).

mod normalize;
mod policy;

pub use normalize::{NameError, normalize_name_part};
pub use policy::AddressPolicy;
