//! Qt's Coin configuration format, read as it is (COIN-FORMAT.md).
//!
//! This is the "instructions loaded" phase: module files, includes, conditions, platform
//! configurations and dependency pins become typed data plus diagnostics.

pub mod condition;
pub mod dependencies;
pub mod instruction;
pub mod module_config;
pub mod platform;
pub mod properties;

pub(crate) mod gitmodules;
pub(crate) mod include;
pub(crate) mod load;
pub(crate) mod read;
