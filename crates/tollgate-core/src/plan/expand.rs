//! Expanding an instruction list for one platform configuration: every condition the
//! configuration decides is decided; instructions it rules out are dropped; what depends on the
//! environment stays, as a residual condition, for the executor.

use crate::coin::condition::{Decision, decide};
use crate::coin::instruction::{Instruction, InstructionKind};
use crate::coin::properties::Properties;

pub fn expand(list: &[Instruction], properties: &Properties) -> Vec<Instruction> {
    let mut out = Vec::with_capacity(list.len());
    for instruction in list {
        let enable_if = match instruction.enable_if.as_ref().map(|c| decide(c, properties)) {
            Some(Decision::Known(false)) => continue,
            Some(Decision::Known(true)) | None => None,
            Some(Decision::Residual(rest)) => Some(rest),
        };
        let disable_if = match instruction.disable_if.as_ref().map(|c| decide(c, properties)) {
            Some(Decision::Known(true)) => continue,
            Some(Decision::Known(false)) | None => None,
            Some(Decision::Residual(rest)) => Some(rest),
        };
        let kind = match &instruction.kind {
            InstructionKind::Group(children) => {
                let children = expand(children, properties);
                if children.is_empty() {
                    continue;
                }
                InstructionKind::Group(children)
            }
            other => other.clone(),
        };
        out.push(Instruction {
            kind,
            enable_if,
            disable_if,
            user_message: instruction.user_message.clone(),
            max_time: instruction.max_time.clone(),
            max_silence: instruction.max_silence.clone(),
            always: instruction.always,
            location: instruction.location.clone(),
        });
    }
    out
}

/// Instructions other than groups: what the format calls leaf instructions.
pub fn leaf_count(list: &[Instruction]) -> usize {
    list.iter()
        .map(|instruction| match &instruction.kind {
            InstructionKind::Group(children) => leaf_count(children),
            _ => 1,
        })
        .sum()
}
