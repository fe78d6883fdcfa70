//! Unit tests of [`super`]: the rule files parse, and plans for Odoo 12.0 and 18.0 catalogs
//! (steps, skipped steps, Odoo's own scripts, the `--dry-run` script).

use super::*;

/// The tables Odoo 12.0 and 18.0 both have, with the same columns (those that matter).
const COMMON_TABLES: &str = "
    ir_cron: id active
    ir_model_data: id module name model res_id
    ir_config_parameter: id key value
    ir_ui_view: id key active
    ir_module_module: id name state latest_version
    mail_template: id mail_server_id
    fetchmail_server: id active
    mail_mail: id state
    iap_account: id account_token
    auth_oauth_provider: id enabled";

/// A catalog with `modules` installed, [`COMMON_TABLES`] and `tables`, both as
/// `table: col col col` lines.
fn catalog(version: &str, modules: &str, tables: &str) -> Catalog {
    let mut catalog = Catalog {
        version: Some(version.to_owned()),
        modules: modules.split_whitespace().map(str::to_owned).collect(),
        ..Catalog::default()
    };
    let lines = COMMON_TABLES.lines().chain(tables.lines());
    for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
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
         ir_act_server: id state webhook_url
         mail_push: id mail_push_device_id
         mail_push_device: id partner_id
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
         ir_act_server: id state
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
        ["[base] base/data/neutralize.sql", "[web] web/data/neutralize.sql", "[mail] mail_mail"]
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
