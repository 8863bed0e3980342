//! The runner with real processes, real files, a real store and bubblewrap. One binary, as
//! nextest recommends.

mod example;
mod harness;
mod instructions;
mod isolation;
mod limits;
mod reuse;
mod tree_cache;
