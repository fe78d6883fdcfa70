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
mod tests {
    use super::*;

    /// A catalog with `modules` installed and `tables` as `table: col col col` lines.
    fn catalog(version: &str, modules: &str, tables: &str) -> Catalog {
        let mut catalog = Catalog {
            version: Some(version.to_owned()),
            modules: modules.split_whitespace().map(str::to_owned).collect(),
            ..Catalog::default()
        };
        for line in tables.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (table, columns) = line.split_once(':').unwrap();
            catalog
                .tables
                .insert(table.to_owned(), columns.split_whitespace().map(str::to_owned).collect());
        }
        catalog
    }

    /// An Odoo 18.0 database with base, web, mail, iap, auth_oauth, payment(_stripe) and
    /// website installed (the columns that matter, as in the fixture).
    fn odoo18() -> Catalog {
        catalog(
            "18.0.1.3",
            "base web mail iap auth_oauth payment payment_stripe website",
            "ir_mail_server: id name active smtp_host smtp_port smtp_encryption smtp_authentication from_filter
             ir_cron: id active
             ir_model_data: id module name model res_id
             ir_config_parameter: id key value
             ir_act_server: id state webhook_url
             ir_ui_view: id key active
             ir_module_module: id name state latest_version
             mail_template: id mail_server_id
             fetchmail_server: id active
             mail_push: id mail_push_device_id
             mail_push_device: id partner_id
             mail_mail: id state
             iap_account: id account_token
             auth_oauth_provider: id enabled
             payment_provider: id state code stripe_secret_key stripe_publishable_key stripe_webhook_secret
             website: id domain cdn_activated robots_txt",
        )
    }

    /// An Odoo 12.0 database: fetchmail is its own module, payment_acquirer has an
    /// environment, no webhooks, no web push, no robots.txt field, mail servers without
    /// an authentication column.
    fn odoo12() -> Catalog {
        catalog(
            "12.0.1.3",
            "base web mail fetchmail iap auth_oauth payment payment_paypal website delivery",
            "ir_mail_server: id name active smtp_host smtp_port smtp_encryption smtp_user smtp_pass
             ir_cron: id active
             ir_model_data: id module name model res_id
             ir_config_parameter: id key value
             ir_act_server: id state
             ir_ui_view: id key active
             ir_module_module: id name state latest_version
             mail_template: id mail_server_id
             fetchmail_server: id active
             mail_mail: id state
             iap_account: id account_token
             auth_oauth_provider: id enabled
             payment_acquirer: id environment website_published paypal_email_account paypal_seller_account paypal_pdt_token
             website: id domain cdn_activated
             delivery_carrier: id active prod_environment delivery_type",
        )
    }

    fn labels(plan: &Plan) -> Vec<String> {
        plan.steps.iter().map(|s| format!("[{}] {}", s.module, s.target())).collect()
    }

    fn step<'a>(plan: &'a Plan, table: &str, needle: &str) -> Option<&'a Step> {
        plan.steps.iter().find(|s| s.table.as_deref() == Some(table) && s.sql.contains(needle))
    }

    #[test]
    fn rule_files_are_well_formed() {
        for text in ODOO_RULES.iter().chain([&OE_RULES]) {
            let rules = parse(text);
            assert!(!rules.is_empty(), "no step in:\n{text}");
            for rule in rules {
                assert!(!rule.modules.is_empty(), "{rule:?}");
                assert!(!rule.description.is_empty(), "{rule:?}");
                assert!(!rule.sql.is_empty() && !rule.sql.contains("-- @"), "{rule:?}");
                assert!(
                    rule.needs.iter().any(|(t, _)| *t == rule.table),
                    "a step must need the table it changes: {rule:?}"
                );
                for (table, columns) in rule.needs.iter().chain(&rule.unless) {
                    assert!(!table.is_empty() && !table.contains(' '), "{rule:?}");
                    assert!(columns.iter().all(|c| !c.is_empty() && !c.contains(' ')), "{rule:?}");
                }
                let words = rule.sql.to_ascii_lowercase();
                assert!(words.contains(rule.table), "{rule:?}");
            }
        }
        assert!(tables().contains(&"ir_mail_server") && tables().contains(&"mail_mail"));
    }

    #[test]
    fn directives_parse() {
        assert_eq!(
            columns("ir_cron(active), ir_model_data(module, name)"),
            vec![("ir_cron", vec!["active"]), ("ir_model_data", vec!["module", "name"])]
        );
        let rules = parse(
            "-- @module a b\n-- @step t: do it\n-- @needs t(x)\n-- @unless t(y)\n-- note\nUPDATE t\n  SET x = 1;\n\n\
             -- @step u: other\n-- @module c\n-- @needs u(z)\nDELETE FROM u;\n",
        );
        assert_eq!(rules.len(), 2);
        assert_eq!((rules[0].table, rules[0].description), ("t", "do it"));
        assert_eq!(rules[0].modules, ["a", "b"]);
        assert_eq!(rules[0].unless, [("t", vec!["y"])]);
        assert_eq!(rules[0].sql, "-- note\nUPDATE t\n  SET x = 1;");
        assert_eq!(rules[1].modules, ["c"]);
    }

    #[test]
    fn odoo18_plan_covers_every_installed_module() {
        let plan = plan(&odoo18(), None);
        assert_eq!(plan.rules, Rules::BuiltIn);
        assert_eq!(
            labels(&plan),
            [
                "[base] ir_mail_server",
                "[base] ir_mail_server",
                "[base] ir_cron",
                "[base] ir_config_parameter",
                "[base] ir_config_parameter",
                "[base] ir_act_server",
                "[web] ir_ui_view",
                "[mail] mail_template",
                "[mail] fetchmail_server",
                "[mail] ir_config_parameter",
                "[mail] mail_push",
                "[mail] mail_push_device",
                "[iap] iap_account",
                "[auth_oauth] auth_oauth_provider",
                "[payment] payment_provider",
                "[website] website",
                "[website] ir_ui_view",
                "[website] website",
                "[website] website",
                "[payment_stripe] payment_provider",
                "[mail] mail_mail",
            ]
        );
        let insert = step(&plan, "ir_mail_server", "INSERT").unwrap();
        assert!(insert.sql.contains("smtp_authentication"), "{}", insert.sql);
        let stripe = step(&plan, "payment_provider", "stripe_secret_key").unwrap();
        assert_eq!(
            stripe.sql,
            "UPDATE payment_provider\n   SET stripe_secret_key = NULL,\n       \
             stripe_publishable_key = NULL,\n       stripe_webhook_secret = NULL\n \
             WHERE stripe_secret_key IS NOT NULL\n    OR stripe_publishable_key IS NOT NULL\n    \
             OR stripe_webhook_secret IS NOT NULL;"
        );
        // The variants for other versions are left out silently.
        assert_eq!(plan.skipped, []);
    }

    #[test]
    fn odoo12_plan_uses_older_tables_and_skips_what_it_lacks() {
        let plan = plan(&odoo12(), None);
        let insert = step(&plan, "ir_mail_server", "INSERT").unwrap();
        assert!(!insert.sql.contains("smtp_authentication"), "{}", insert.sql);
        assert_eq!(plan.steps.iter().filter(|s| s.sql.contains("INSERT INTO ir_mail")).count(), 1);
        assert!(step(&plan, "fetchmail_server", "active = false").is_some());
        assert!(step(&plan, "payment_acquirer", "environment = 'test'").is_some());
        assert!(step(&plan, "payment_acquirer", "state = 'disabled'").is_none());
        let paypal = step(&plan, "payment_acquirer", "paypal_email_account = NULL").unwrap();
        assert!(!paypal.sql.contains("paypal_client_id"), "{}", paypal.sql);
        assert!(step(&plan, "delivery_carrier", "prod_environment = false").is_some());
        assert!(step(&plan, "mail_mail", "'cancel'").is_some());
        for table in ["ir_act_server", "mail_push", "payment_provider"] {
            assert!(plan.steps.iter().all(|s| s.table.as_deref() != Some(table)), "{table}");
        }
        let skipped: Vec<String> = plan
            .skipped
            .iter()
            .map(|s| format!("{} {}", s.table.as_deref().unwrap_or("-"), s.reason))
            .collect();
        for expected in [
            "ir_act_server no column webhook_url in ir_act_server",
            "website no column robots_txt in website",
            "mail_push no table mail_push",
            "payment_acquirer no column state in payment_acquirer",
        ] {
            assert!(skipped.iter().any(|s| s == expected), "{expected} not in {skipped:?}");
        }
        // payment_acquirer(state) is missing: its step is skipped, its variant runs.
        assert!(step(&plan, "payment_acquirer", "environment").is_some());
    }

    #[test]
    fn a_module_that_is_not_installed_has_no_step() {
        let mut catalog = odoo18();
        catalog.modules.remove("website");
        catalog.modules.remove("payment_stripe");
        let plan = plan(&catalog, None);
        assert!(plan.steps.iter().all(|s| s.module != "website" && s.module != "payment_stripe"));
        assert!(step(&plan, "payment_provider", "state = 'disabled'").is_some());
    }

    #[test]
    fn a_missing_column_skips_only_its_statement() {
        let mut catalog = odoo18();
        catalog.tables.get_mut("website").unwrap().remove("cdn_activated");
        catalog.tables.remove("iap_account");
        let plan = plan(&catalog, None);
        assert!(step(&plan, "website", "cdn_activated").is_none());
        assert!(step(&plan, "website", "robots_txt").is_some());
        assert!(plan.steps.iter().all(|s| s.module != "iap"));
        let reasons: Vec<&str> = plan.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons.contains(&"no column cdn_activated in website"), "{reasons:?}");
        assert!(reasons.contains(&"no table iap_account"), "{reasons:?}");
    }

    #[test]
    fn odoo_scripts_replace_the_builtin_rules_but_not_oe_additions() {
        let scripts = vec![
            Script {
                module: "base".into(),
                path: "/o/base/data/neutralize.sql".into(),
                sql: "UPDATE ir_cron SET active = false".into(),
            },
            Script {
                module: "web".into(),
                path: "/o/web/data/neutralize.sql".into(),
                sql: "SELECT 1;".into(),
            },
        ];
        let plan = plan(&odoo18(), Some(scripts.clone()));
        assert_eq!(plan.rules, Rules::Odoo);
        assert_eq!(
            labels(&plan),
            [
                "[base] base/data/neutralize.sql",
                "[web] web/data/neutralize.sql",
                "[mail] mail_mail"
            ]
        );
        assert_eq!(plan.steps[0].label(), "[base] /o/base/data/neutralize.sql");
        let script = plan.script("acme");
        assert!(script.contains("UPDATE ir_cron SET active = false;\n"), "{script}");

        let mut neutralized = odoo18();
        neutralized.neutralized = true;
        let plan = super::plan(&neutralized, Some(scripts));
        assert_eq!(labels(&plan), ["[mail] mail_mail"]);
        assert_eq!(plan.skipped.len(), 2);
    }

    #[test]
    fn the_script_is_one_transaction_naming_each_step() {
        let script = plan(&odoo12(), None).script("acme_staging");
        assert!(script.starts_with("-- oe neutralize: plan for database acme_staging (oe's built-in rules, Odoo 12.0.1.3)\n"), "{script}");
        assert!(script.contains("\nBEGIN;\n") && script.contains("\nCOMMIT;\n"), "{script}");
        assert!(script.contains("\n-- [base] ir_cron: deactivate every scheduled action except base.autovacuum_job\nUPDATE ir_cron\n"), "{script}");
        assert!(script.contains("\n-- skipped [mail] mail_push: delete queued web push notifications (no table mail_push)\n"), "{script}");
        let statements = script.lines().filter(|l| l.ends_with(';')).count();
        assert!(statements > 15, "{script}");
    }
}
