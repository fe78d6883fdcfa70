//! Neutralization of a staging copy as a [`Plan`]: the SQL steps to run, in order, in one
//! transaction, chosen from what the database's [`Catalog`] holds (tables, columns, installed
//! modules).
//!
//! Two sources of rules:
//!
//! - Odoo's own `data/neutralize.sql` of each installed module (16.0 and later), read from
//!   the addons path by the job and passed in as [`Script`]s: each file is one step, run as
//!   its own batch (some lack a final `;`);
//! - otherwise the built-in rules for Odoo 12.0 to 18.0, kept as data: one annotated SQL file
//!   per Odoo module under `neutralize/`, and `PAYMENT_CREDENTIALS`. They do what these
//!   modules' files do in Odoo 18 (base, web, mail, iap, auth_oauth, payment and its
//!   providers, website, delivery), touch only rows that still need it (a second run changes
//!   nothing), and each names the tables and columns it needs, so a statement that does not
//!   apply to an older version is skipped, not failed.
//!
//! `oe`'s own additions (`neutralize/oe.sql`: queued outgoing mail is cancelled) run with
//! either source.
//!
//! A rule file is SQL with directives in comments: `-- @module a b` (the file's modules; a
//! step runs if any is installed), then steps, each opened by `-- @step TABLE: description`
//! and followed by `-- @needs t(c1, c2), u(c3)` (the tables and columns it needs),
//! `-- @unless t(c)` (leave it out when any such table and columns exist: a variant for
//! other versions covers them) and an optional `-- @module` of its own. The SQL runs up to
//! the next `-- @step`.
//!
//! Pure: no I/O beyond `include_str!`.

use std::path::PathBuf;

use serde::Serialize;

use crate::pg::catalog::Catalog;

/// The built-in rules, one file per Odoo module, in the order they run.
const ODOO_RULES: [&str; 8] = [
    include_str!("neutralize/base.sql"),
    include_str!("neutralize/web.sql"),
    include_str!("neutralize/mail.sql"),
    include_str!("neutralize/iap.sql"),
    include_str!("neutralize/auth_oauth.sql"),
    include_str!("neutralize/payment.sql"),
    include_str!("neutralize/website.sql"),
    include_str!("neutralize/delivery.sql"),
];

/// What `oe` adds to either source of rules.
const OE_RULES: &str = include_str!("neutralize/oe.sql");

/// Credential columns of each payment provider module, cleared (set to NULL) where they
/// exist, in `payment_provider` (16.0 and later) or `payment_acquirer` (up to 15.0). The
/// union over Odoo 12.0 to 18.0 of what each module's `data/neutralize.sql` clears, plus
/// the keys of older versions that had no such file.
const PAYMENT_CREDENTIALS: &[(&str, &[&str])] = &[
    (
        "payment_adyen",
        &[
            "adyen_merchant_account",
            "adyen_api_key",
            "adyen_client_key",
            "adyen_hmac_key",
            "adyen_skin_code",
            "adyen_skin_hmac_key",
        ],
    ),
    (
        "payment_alipay",
        &["alipay_merchant_partner_id", "alipay_md5_signature_key", "alipay_seller_email"],
    ),
    (
        "payment_aps",
        &["aps_merchant_identifier", "aps_access_code", "aps_sha_request", "aps_sha_response"],
    ),
    (
        "payment_asiapay",
        &[
            "asiapay_merchant_id",
            "asiapay_currency_id",
            "asiapay_secure_hash_secret",
            "asiapay_secure_hash_function",
        ],
    ),
    (
        "payment_authorize",
        &[
            "authorize_login",
            "authorize_transaction_key",
            "authorize_signature_key",
            "authorize_client_key",
        ],
    ),
    ("payment_buckaroo", &["buckaroo_website_key", "buckaroo_secret_key"]),
    (
        "payment_flutterwave",
        &["flutterwave_public_key", "flutterwave_secret_key", "flutterwave_webhook_secret"],
    ),
    ("payment_mercado_pago", &["mercado_pago_access_token"]),
    ("payment_mollie", &["mollie_api_key"]),
    ("payment_nuvei", &["nuvei_merchant_identifier", "nuvei_site_identifier", "nuvei_secret_key"]),
    (
        "payment_ogone",
        &["ogone_pspid", "ogone_userid", "ogone_password", "ogone_shakey_in", "ogone_shakey_out"],
    ),
    (
        "payment_paypal",
        &[
            "paypal_email_account",
            "paypal_seller_account",
            "paypal_pdt_token",
            "paypal_client_id",
            "paypal_client_secret",
        ],
    ),
    ("payment_payulatam", &["payulatam_merchant_id", "payulatam_account_id", "payulatam_api_key"]),
    ("payment_payumoney", &["payumoney_merchant_key", "payumoney_merchant_salt"]),
    (
        "payment_razorpay",
        &[
            "razorpay_key_id",
            "razorpay_key_secret",
            "razorpay_webhook_secret",
            "razorpay_public_token",
            "razorpay_refresh_token",
            "razorpay_access_token",
            "razorpay_account_id",
        ],
    ),
    ("payment_sips", &["sips_merchant_id", "sips_secret"]),
    ("payment_stripe", &["stripe_secret_key", "stripe_publishable_key", "stripe_webhook_secret"]),
    (
        "payment_worldline",
        &[
            "worldline_pspid",
            "worldline_api_key",
            "worldline_api_secret",
            "worldline_webhook_key",
            "worldline_webhook_secret",
        ],
    ),
    ("payment_xendit", &["xendit_public_key", "xendit_secret_key", "xendit_webhook_token"]),
];

/// Where the steps of a plan come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rules {
    /// `oe`'s built-in rules.
    BuiltIn,
    /// Odoo's own `data/neutralize.sql` files from the addons path.
    Odoo,
}

impl std::fmt::Display for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rules::BuiltIn => "oe's built-in rules",
            Rules::Odoo => "Odoo's neutralize.sql files",
        })
    }
}

/// One of Odoo's `data/neutralize.sql` files, as found on the addons path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub module: String,
    pub path: PathBuf,
    pub sql: String,
}

/// What to run on a database, in order, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub rules: Rules,
    /// `latest_version` of `base`.
    pub version: Option<String>,
    pub steps: Vec<Step>,
    /// Steps of installed modules that do not apply to this database, and why.
    pub skipped: Vec<Skipped>,
}

/// One batch of SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The Odoo module the step belongs to.
    pub module: String,
    /// The table it changes; `None` for one of Odoo's scripts, which may change several.
    pub table: Option<String>,
    pub description: String,
    pub sql: String,
}

/// A step left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub module: String,
    pub table: Option<String>,
    pub description: String,
    pub reason: String,
}

impl Step {
    /// `[module] table: description`, for messages.
    pub fn label(&self) -> String {
        match &self.table {
            Some(table) => format!("[{}] {table}: {}", self.module, self.description),
            None => format!("[{}] {}", self.module, self.description),
        }
    }

    /// What the rows this step changed are counted under: its table, or its script.
    pub fn target(&self) -> String {
        self.table.clone().unwrap_or_else(|| format!("{}/data/neutralize.sql", self.module))
    }
}

impl Plan {
    /// The plan as an SQL script, the way `--dry-run` shows it: one transaction, each step
    /// behind a comment naming it, skipped steps listed at the end.
    pub fn script(&self, database: &str) -> String {
        let mut out = format!(
            "-- oe neutralize: plan for database {database} ({}, Odoo {})\n\
             -- --dry-run changed nothing; without it, these steps run in one transaction.\n\
             BEGIN;\n",
            self.rules,
            self.version.as_deref().unwrap_or("version unknown"),
        );
        for step in &self.steps {
            let sql = step.sql.trim_end();
            let end = if sql.ends_with(';') { "" } else { ";" };
            out.push_str(&format!("\n-- {}\n{sql}{end}\n", step.label()));
        }
        out.push_str("\nCOMMIT;\n");
        if !self.skipped.is_empty() {
            out.push('\n');
        }
        for skipped in &self.skipped {
            let table = skipped.table.as_deref().map(|t| format!(" {t}:")).unwrap_or_default();
            out.push_str(&format!(
                "-- skipped [{}]{table} {} ({})\n",
                skipped.module, skipped.description, skipped.reason
            ));
        }
        out
    }
}

/// The plan for a database with `catalog`: Odoo's `scripts` when the addons path provided
/// them, else the built-in rules; `oe`'s additions in both cases.
///
/// Odoo's scripts are not idempotent (each run adds another dummy mail server), so they are
/// skipped on a database that says it is neutralized already.
pub fn plan(catalog: &Catalog, scripts: Option<Vec<Script>>) -> Plan {
    let mut plan = Plan {
        rules: if scripts.is_some() { Rules::Odoo } else { Rules::BuiltIn },
        version: catalog.version.clone(),
        steps: Vec::new(),
        skipped: Vec::new(),
    };
    match scripts {
        Some(scripts) => {
            for script in scripts {
                let description = script.path.display().to_string();
                if catalog.neutralized {
                    plan.skipped.push(Skipped {
                        module: script.module,
                        table: None,
                        description,
                        reason: "the database is neutralized already and Odoo's scripts are \
                                 not safe to run twice"
                            .into(),
                    });
                } else {
                    plan.steps.push(Step {
                        module: script.module,
                        table: None,
                        description,
                        sql: script.sql,
                    });
                }
            }
        }
        None => {
            for rule in ODOO_RULES.into_iter().flat_map(parse) {
                rule.apply(catalog, &mut plan);
            }
            payment_credentials(catalog, &mut plan);
        }
    }
    for rule in parse(OE_RULES) {
        rule.apply(catalog, &mut plan);
    }
    plan
}

/// The tables the built-in rules look at: the catalog to ask for.
pub fn tables() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = ODOO_RULES
        .iter()
        .chain([&OE_RULES])
        .flat_map(|text| parse(text))
        .flat_map(|rule| rule.needs.into_iter().chain(rule.unless).map(|(table, _)| table))
        .chain(["payment_provider", "payment_acquirer"])
        .collect();
    tables.sort_unstable();
    tables.dedup();
    tables
}

/// One step of a rule file, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    modules: Vec<&'static str>,
    table: &'static str,
    description: &'static str,
    needs: Vec<(&'static str, Vec<&'static str>)>,
    unless: Vec<(&'static str, Vec<&'static str>)>,
    sql: String,
}

impl Rule {
    /// Adds the rule to `plan` as a step, or as skipped when the catalog lacks what it
    /// needs. A rule of a module that is not installed, or whose newer variant applies
    /// (`@unless`), is left out silently.
    fn apply(self, catalog: &Catalog, plan: &mut Plan) {
        if !self.modules.iter().any(|m| catalog.is_installed(m)) {
            return;
        }
        let present = |(table, columns): &(&str, Vec<&str>)| {
            catalog.has_table(table) && columns.iter().all(|c| catalog.has_column(table, c))
        };
        if self.unless.iter().any(present) {
            return;
        }
        let module = self.modules.first().copied().unwrap_or_default().to_owned();
        match missing(catalog, &self.needs) {
            Some(reason) => plan.skipped.push(Skipped {
                module,
                table: Some(self.table.to_owned()),
                description: self.description.to_owned(),
                reason,
            }),
            None => plan.steps.push(Step {
                module,
                table: Some(self.table.to_owned()),
                description: self.description.to_owned(),
                sql: self.sql,
            }),
        }
    }
}

/// Why `needs` are not met by `catalog`, if they are not.
fn missing(catalog: &Catalog, needs: &[(&str, Vec<&str>)]) -> Option<String> {
    for (table, columns) in needs {
        if !catalog.has_table(table) {
            return Some(format!("no table {table}"));
        }
        let absent: Vec<&str> =
            columns.iter().copied().filter(|c| !catalog.has_column(table, c)).collect();
        if !absent.is_empty() {
            return Some(format!("no column {} in {table}", absent.join(", ")));
        }
    }
    None
}

/// Steps clearing the credentials of each installed payment provider module.
fn payment_credentials(catalog: &Catalog, plan: &mut Plan) {
    let table = ["payment_provider", "payment_acquirer"].into_iter().find(|t| catalog.has_table(t));
    for (module, columns) in PAYMENT_CREDENTIALS {
        if !catalog.is_installed(module) {
            continue;
        }
        let description = format!("clear the credentials of {module}");
        let Some(table) = table else {
            plan.skipped.push(Skipped {
                module: (*module).to_owned(),
                table: None,
                description,
                reason: "no table payment_provider or payment_acquirer".into(),
            });
            continue;
        };
        let present: Vec<&str> =
            columns.iter().copied().filter(|c| catalog.has_column(table, c)).collect();
        if present.is_empty() {
            plan.skipped.push(Skipped {
                module: (*module).to_owned(),
                table: Some(table.to_owned()),
                description,
                reason: format!("none of its columns ({}) in {table}", columns.join(", ")),
            });
            continue;
        }
        let set: Vec<String> = present.iter().map(|c| format!("{c} = NULL")).collect();
        let filled: Vec<String> = present.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        plan.steps.push(Step {
            module: (*module).to_owned(),
            table: Some(table.to_owned()),
            description,
            sql: format!(
                "UPDATE {table}\n   SET {}\n WHERE {};",
                set.join(",\n       "),
                filled.join("\n    OR ")
            ),
        });
    }
}

/// The steps of a rule file (see the module's documentation for the format).
fn parse(text: &'static str) -> Vec<Rule> {
    let mut modules: Vec<&'static str> = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    for line in text.lines() {
        let directive = line.trim().strip_prefix("-- @");
        let (name, value) = match directive.and_then(|d| d.split_once(' ')) {
            Some((name, value)) => (name, value.trim()),
            None => ("", ""),
        };
        match (name, rules.last_mut()) {
            ("step", _) => {
                let (table, description) = value.split_once(':').unwrap_or((value, ""));
                rules.push(Rule {
                    modules: modules.clone(),
                    table: table.trim(),
                    description: description.trim(),
                    needs: Vec::new(),
                    unless: Vec::new(),
                    sql: String::new(),
                });
            }
            ("module", None) => modules = value.split_whitespace().collect(),
            ("module", Some(rule)) => rule.modules = value.split_whitespace().collect(),
            ("needs", Some(rule)) => rule.needs.extend(columns(value)),
            ("unless", Some(rule)) => rule.unless.extend(columns(value)),
            (_, Some(rule)) => {
                rule.sql.push_str(line);
                rule.sql.push('\n');
            }
            (_, None) => {}
        }
    }
    for rule in &mut rules {
        rule.sql = rule.sql.trim().to_owned();
    }
    rules
}

/// `t(a, b), u(c)` → `[(t, [a, b]), (u, [c])]`.
fn columns(value: &'static str) -> Vec<(&'static str, Vec<&'static str>)> {
    value
        .split(')')
        .filter_map(|group| {
            let (table, columns) = group.trim_start_matches([',', ' ']).split_once('(')?;
            Some((table.trim(), columns.split(',').map(str::trim).collect()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
