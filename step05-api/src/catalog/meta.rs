//! What the catalog knows about one table: [`TableMeta`].
//!
//! Everything `DescribeTable` reports that is not computed from the data
//! (item count and size are): name, id, key schema, attribute definitions,
//! billing mode and provisioned throughput with its change history,
//! creation time, tags. The struct is persisted as JSON inside the
//! checksummed catalog file, so field names are part of the file format.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use step01_kv::key::{KeyAttribute, KeySchema, KeyType};

/// Seconds in a day, for "decreases today" (a UTC day).
pub const DAY_SECONDS: f64 = 86_400.0;

/// How a table pays for throughput.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }

    pub fn parse(text: &str) -> Option<BillingMode> {
        match text {
            "PROVISIONED" => Some(BillingMode::Provisioned),
            "PAY_PER_REQUEST" => Some(BillingMode::PayPerRequest),
            _ => None,
        }
    }
}

/// The type of a key attribute: `S`, `N` or `B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn as_str(self) -> &'static str {
        self.key_type().name()
    }

    pub fn parse(text: &str) -> Option<ScalarType> {
        match text {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    pub fn key_type(self) -> KeyType {
        match self {
            ScalarType::S => KeyType::S,
            ScalarType::N => KeyType::N,
            ScalarType::B => KeyType::B,
        }
    }
}

/// One `AttributeDefinitions` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDefinition {
    pub name: String,
    pub attribute_type: ScalarType,
}

/// Provisioned capacity and its history. On-demand tables keep 0/0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub read_units: u64,
    pub write_units: u64,
    /// Epoch seconds of the last increase / decrease, if any.
    pub last_increase: Option<f64>,
    pub last_decrease: Option<f64>,
    /// Decreases on the UTC day `decrease_day` (days since the epoch).
    pub decreases_today: u32,
    pub decrease_day: u64,
}

impl Throughput {
    pub fn new(read_units: u64, write_units: u64) -> Throughput {
        Throughput {
            read_units,
            write_units,
            ..Throughput::default()
        }
    }

    /// The count of decreases on the UTC day of `now`.
    pub fn decreases_on(&self, now: f64) -> u32 {
        if utc_day(now) == self.decrease_day {
            self.decreases_today
        } else {
            0
        }
    }

    /// Changes the units at `now`, recording an increase and/or a decrease.
    pub fn change(&mut self, read_units: u64, write_units: u64, now: f64) {
        let increased = read_units > self.read_units || write_units > self.write_units;
        let decreased = read_units < self.read_units || write_units < self.write_units;
        if increased {
            self.last_increase = Some(now);
        }
        if decreased {
            self.decreases_today = self.decreases_on(now) + 1;
            self.decrease_day = utc_day(now);
            self.last_decrease = Some(now);
        }
        self.read_units = read_units;
        self.write_units = write_units;
    }
}

/// Days since the epoch, in UTC.
fn utc_day(epoch_seconds: f64) -> u64 {
    (epoch_seconds / DAY_SECONDS).floor().max(0.0) as u64
}

/// A table as the catalog stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    pub name: String,
    /// A UUID, unique for every table ever created (a table deleted and
    /// created again under the same name gets a new one). Also the name of
    /// the table's data directory.
    pub id: String,
    pub partition_key: AttributeDefinition,
    pub sort_key: Option<AttributeDefinition>,
    /// As the client sent them (order kept for `DescribeTable`).
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub billing_mode: BillingMode,
    pub throughput: Throughput,
    /// When the table last switched to on-demand (epoch seconds).
    pub pay_per_request_since: Option<f64>,
    /// Epoch seconds, millisecond precision.
    pub created: f64,
    pub tags: BTreeMap<String, String>,
    pub deletion_protection: bool,
    pub table_class: Option<String>,
}

impl TableMeta {
    /// The key schema in step 1's terms.
    pub fn key_schema(&self) -> KeySchema {
        let attribute = |definition: &AttributeDefinition| KeyAttribute {
            name: definition.name.clone(),
            key_type: definition.attribute_type.key_type(),
        };
        KeySchema {
            partition: attribute(&self.partition_key),
            sort: self.sort_key.as_ref().map(attribute),
        }
    }

    /// Whether `name` is one of the table's key attributes.
    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.partition_key.name == name
            || self.sort_key.as_ref().is_some_and(|sort| sort.name == name)
    }
}

/// The table's ARN in `region` for the local account.
pub fn table_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:dynamodb:{region}:{account}:table/{name}")
}

/// The wall clock as DynamoDB reports times: epoch seconds with
/// milliseconds.
pub fn epoch_seconds() -> f64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    millis as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decreases_are_counted_per_utc_day() {
        let day = 20_000.0 * DAY_SECONDS;
        let mut t = Throughput::new(10, 10);
        t.change(5, 10, day + 10.0);
        t.change(5, 5, day + 20.0);
        assert_eq!(t.decreases_on(day + 30.0), 2);
        assert_eq!(t.last_decrease, Some(day + 20.0));
        assert_eq!(t.last_increase, None);
        t.change(6, 5, day + 40.0);
        assert_eq!(t.last_increase, Some(day + 40.0));
        assert_eq!(t.decreases_on(day + DAY_SECONDS + 1.0), 0);
        t.change(1, 1, day + DAY_SECONDS + 1.0);
        assert_eq!(t.decreases_on(day + DAY_SECONDS + 2.0), 1);
    }
}
