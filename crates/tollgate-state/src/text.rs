//! The wire enums as the database stores them: their snake_case names.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StateError;

pub(crate) fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => unreachable!("state enums serialise as strings"),
    }
}

pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, StateError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        StateError::Database(sqlx::Error::Decode(format!("unknown state `{text}`").into()))
    })
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("wire types serialise")
}

pub(crate) fn from_json<T: DeserializeOwned>(
    text: Option<String>,
) -> Result<Option<T>, StateError> {
    text.map(|text| {
        serde_json::from_str(&text)
            .map_err(|error| StateError::Database(sqlx::Error::Decode(Box::new(error))))
    })
    .transpose()
}
