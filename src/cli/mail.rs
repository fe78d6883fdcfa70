//! `oe mail serve|ls|show|purge`: the mail catcher of staging copies (`mail`).

use std::io::Write as _;
use std::net::SocketAddr;

use super::args::Global;
use super::failure::Result;
use super::output::{Printer, WriteError};
use crate::config::Settings;
use crate::mail::{self, store};

#[derive(Debug, clap::Args)]
pub struct MailArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Run the catcher alone until Ctrl-C or SIGTERM (oe daemon runs it when mail.listen is set)
    Serve {
        /// Listen here instead of mail.listen; repeatable
        #[arg(long, value_name = "ADDR")]
        listen: Vec<SocketAddr>,
        /// Serve the web page here instead of mail.web
        #[arg(long, value_name = "ADDR")]
        web: Option<SocketAddr>,
    },
    /// The caught messages, newest first
    Ls,
    /// One message: headers, text, HTML (as text), attachments
    Show {
        id: String,
        /// The message as it arrived
        #[arg(long)]
        raw: bool,
    },
    /// Remove caught messages (every one unless --older-than)
    Purge {
        /// Only those older than this (7d, 36h)
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Option<std::time::Duration>,
    },
}

fn parse_age(text: &str) -> std::result::Result<std::time::Duration, String> {
    let age = crate::rules::retention::parse_age(text)?;
    age.try_into().map_err(|_| format!("invalid duration {text:?}"))
}

pub async fn run(global: &Global, args: MailArgs, settings: Settings) -> Result {
    let mail = settings.mail()?;
    let printer = global.printer();
    match args.action {
        Action::Serve { listen, web } => {
            let listen = if listen.is_empty() { mail.listen.clone() } else { listen };
            let running = mail::start(&mail, &listen, web.or(mail.web)).await?;
            let doc = serde_json::json!({
                "listening": running.smtp, "web": running.web, "dir": mail.dir,
            });
            printer.summary(&doc, |out| {
                let addrs: Vec<String> = running.smtp.iter().map(SocketAddr::to_string).collect();
                let web =
                    running.web.map(|a| format!(", web page http://{a}/")).unwrap_or_default();
                let dir = mail.dir.display();
                writeln!(out, "mail catcher on {}{web} (messages in {dir})", addrs.join(", "))
            })?;
            crate::stop::raised().await;
            for task in running.tasks {
                task.abort();
            }
            Ok(())
        }
        Action::Ls => {
            let store = mail::open_store(&mail).map_err(mail::Error::from)?;
            let list = store.list().map_err(mail::Error::from)?;
            listed(&printer, &list)
        }
        Action::Show { id, raw } => {
            let store = mail::open_store(&mail).map_err(mail::Error::from)?;
            if raw {
                let bytes = store.raw(&id).map_err(mail::Error::from)?;
                std::io::stdout().lock().write_all(&bytes).map_err(WriteError)?;
                return Ok(());
            }
            let shown = store.show(&id).map_err(mail::Error::from)?;
            show(&printer, &shown)
        }
        Action::Purge { older_than } => {
            let store = mail::open_store(&mail).map_err(mail::Error::from)?;
            let removed =
                store.purge(Some(older_than.unwrap_or_default())).map_err(mail::Error::from)?;
            printer.summary(&serde_json::json!({ "removed": removed }), |out| {
                writeln!(out, "removed {removed} message(s)")
            })
        }
    }
}

fn time(seconds: u64) -> String {
    jiff::Timestamp::from_second(seconds as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn listed(printer: &Printer, list: &[store::Summary]) -> Result {
    printer.listing(list, |out| {
        if list.is_empty() {
            return writeln!(out, "no message caught");
        }
        writeln!(out, "{:28} {:19} {:28} {:28} SUBJECT", "ID", "RECEIVED", "FROM", "TO")?;
        for m in list {
            let to = m.to.join(",");
            writeln!(
                out,
                "{:28} {:19} {:28} {:28} {}",
                m.id,
                time(m.received),
                m.from,
                to,
                m.subject
            )?;
        }
        Ok(())
    })
}

fn show(printer: &Printer, m: &store::Shown) -> Result {
    printer.listing(m, |out| {
        writeln!(out, "id:       {}", m.summary.id)?;
        writeln!(out, "received: {}", time(m.summary.received))?;
        writeln!(out, "envelope: from <{}> to {}", m.summary.from, m.summary.to.join(", "))?;
        writeln!(out, "from:     {}", m.header_from)?;
        writeln!(out, "to:       {}", m.header_to)?;
        writeln!(out, "subject:  {}", m.summary.subject)?;
        if let Some(date) = &m.date {
            writeln!(out, "date:     {date}")?;
        }
        for a in &m.attachments {
            writeln!(out, "attached: {} ({}, {} bytes)", a.name, a.content_type, a.size)?;
        }
        writeln!(out)?;
        match (&m.text, &m.html) {
            (Some(text), _) => writeln!(out, "{}", text.trim_end()),
            (None, Some(html)) => writeln!(out, "(HTML only)\n{}", html.trim_end()),
            (None, None) => writeln!(out, "(no text)"),
        }
    })
}
