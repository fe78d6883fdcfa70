//! Odoo's `manifest.json`: Odoo's keys, in Odoo's order, 4-space indented, plus `oe`'s own
//! key (Odoo ignores unknown keys). Pure: the facts come from the database through `pg`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::pipeline::sql::TableRows;

/// The manifest of an Odoo backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub odoo_dump: String,
    pub db_name: String,
    pub version: String,
    pub version_info: Vec<Value>,
    pub major_version: String,
    pub pg_version: String,
    /// Installed module → its `latest_version`, in the database's order.
    pub modules: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oe: Option<OeInfo>,
}

/// What `oe` adds: who wrote the archive and what it should hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OeInfo {
    pub version: String,
    /// Files of the filestore in the archive.
    pub filestore_files: u64,
    pub filestore_bytes: u64,
    /// The rows of every table in `dump.sql` (schema → table → rows), counted as it was
    /// written; absent in archives of older `oe` versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<TableRows>,
}

impl Manifest {
    /// The manifest Odoo would write for `db_name`, from the `latest_version` of `base`
    /// (`18.0.1.3` → series `18.0`), the server version number (`150018`) and the
    /// installed modules.
    pub fn new(
        db_name: &str,
        base_version: &str,
        server_version_num: u32,
        modules: Vec<(String, String)>,
    ) -> Manifest {
        let parts: Vec<&str> = base_version.split('.').collect();
        let series = if parts.len() > 2 {
            parts[..parts.len() - 2].join(".")
        } else {
            base_version.to_owned()
        };
        let number = |s: Option<&&str>| {
            s.and_then(|s| s.trim_start_matches("saas~").parse::<u64>().ok()).unwrap_or(0)
        };
        let series_parts: Vec<&str> = series.split('.').collect();
        let version_info = vec![
            Value::from(number(series_parts.first())),
            Value::from(number(series_parts.get(1))),
            Value::from(0),
            Value::from("final"),
            Value::from(0),
            Value::from(""),
        ];
        Manifest {
            odoo_dump: "1".into(),
            db_name: db_name.into(),
            version: series.clone(),
            version_info,
            major_version: series,
            pg_version: pg_version(server_version_num),
            modules: modules.into_iter().map(|(k, v)| (k, Value::from(v))).collect(),
            oe: None,
        }
    }

    /// JSON as Odoo writes it: 4-space indentation.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Serializing plain data to memory cannot fail.
        let _ = self.serialize(&mut serializer);
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// Odoo's `pg_version`: `"%d.%d" % divmod(server_version / 100, 100)`, so every
/// PostgreSQL ≥ 10 shows as `<major>.0`.
fn pg_version(server_version_num: u32) -> String {
    let hundredths = server_version_num / 100;
    format!("{}.{}", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/odoo18/odoo18_ref.zip");

    #[test]
    fn matches_odoo_byte_for_byte_on_the_fixture() {
        let file = std::fs::File::open(FIXTURE).unwrap();
        let mut archive = zip::ZipArchive::new(file).unwrap();
        let mut original = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_name("manifest.json").unwrap(), &mut original)
            .unwrap();
        let parsed = Manifest::parse(&original).unwrap();
        let modules: Vec<(String, String)> = parsed
            .modules
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let base = modules.iter().find(|(k, _)| k == "base").unwrap().1.clone();
        let rebuilt = Manifest::new(&parsed.db_name, &base, 150018, modules);
        assert_eq!(rebuilt, parsed);
        assert_eq!(
            String::from_utf8(rebuilt.to_json()).unwrap(),
            String::from_utf8(original).unwrap()
        );
    }

    #[test]
    fn versions() {
        assert_eq!(pg_version(150018), "15.0");
        assert_eq!(pg_version(90624), "9.6");
        let m = Manifest::new("x", "16.0.1.3", 160004, vec![]);
        assert_eq!((m.version.as_str(), m.pg_version.as_str()), ("16.0", "16.0"));
        assert_eq!(m.version_info[0], Value::from(16));
    }
}
