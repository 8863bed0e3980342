//! A YAML document as a tree of [`Node`]s that keep what Coin's format needs and serde loses:
//! the position of every node, tags (`!include`), whether a node holds an anchor, and the raw
//! text of scalars, so that `1`, `"1"` and `True` can each be read as the field wants.

mod load;
mod node;

pub use load::{Limits, YamlError, parse};
pub use node::{Node, Scalar, ScalarStyle, Value};
