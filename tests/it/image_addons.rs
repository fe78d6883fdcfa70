//! `deploy::image_addons` against the real Docker engine and the test Odoo image
//! (`contrib/test-images.sh`): every addon's checksum as click-odoo-contrib's own
//! `addon_hash` computes it inside a container of the same image (the oracle, mounted from
//! `$OE_TEST_PYTHONPATH`), Odoo's own addons directory, and the cache answering a second
//! call without a container (the engine's events say which containers this process made).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use oe::deploy::engine::Engine;
use oe::deploy::image_addons::{Error, image_checksums, odoo_addons_dir};
use oe::odoo::addon_hash::ExcludePatterns;

use crate::deploy::images;

/// Where click-odoo-contrib 1.24 is installed (`contrib/test.sh` installs it there).
fn oracle_path() -> String {
    std::env::var("OE_TEST_PYTHONPATH")
        .unwrap_or_else(|_| "/var/tmp/oe-test-pydeps/click-odoo-contrib-1.24".into())
}

/// click-odoo-update's checksum of every addon of each directory, computed by
/// click-odoo-contrib's `addon_hash` in a container of `image`.
const ORACLE: &str = r#"
import json, os, sys
from click_odoo_contrib._addon_hash import addon_hash
args = json.loads(sys.argv[1])
patterns = [p.strip() for p in args["exclude"].split(",")]
out = []
for d in args["dirs"]:
    sums = {}
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if os.path.isdir(path) and any(
                os.path.isfile(os.path.join(path, m)) for m in ("__manifest__.py", "__openerp__.py")
            ):
                sums[name] = addon_hash(path, patterns, args["langs"])
    out.append([d, sums])
print(json.dumps(out))
"#;

fn oracle(
    image: &str,
    dirs: &[String],
    exclude: &str,
    langs: &[String],
) -> Vec<(String, BTreeMap<String, String>)> {
    let oracle = oracle_path();
    assert!(
        Path::new(&oracle).join("click_odoo_contrib").is_dir(),
        "the oracle click-odoo-contrib 1.24 is not installed at {oracle} (contrib/test.sh \
         installs it; or set OE_TEST_PYTHONPATH)"
    );
    let args = serde_json::json!({"dirs": dirs, "exclude": exclude, "langs": langs});
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", "--entrypoint", "python3"])
        .args(["-e", "PYTHONPATH=/oracle", "-e", "PYTHONDONTWRITEBYTECODE=1"])
        .args(["-v", &format!("{oracle}:/oracle:ro")])
        .args([image, "-c", ORACLE, &args.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "the oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The containers this process had the engine create since `since` (a [`now`]): the
/// engine's `create` events whose container name is one of this process's throwaway names.
fn containers_created(since: &str) -> Vec<String> {
    let until = now();
    let out = Command::new("docker")
        .args(["events", "--format", "{{json .}}", "--filter", "type=container"])
        .args(["--filter", "event=create"])
        .args(["--since", since, "--until", &until])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker events: {}", String::from_utf8_lossy(&out.stderr));
    let pid = std::process::id();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).ok()?;
            Some(event["Actor"]["Attributes"]["name"].as_str()?.to_owned())
        })
        .filter(|name| name.starts_with("oe-") && name.contains(&format!("-{pid}-")))
        .collect()
}

/// Now, as `docker events` reads a time: unix seconds with nanoseconds.
fn now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

#[test]
fn image_checksums_are_click_odoo_updates_and_cached() {
    let Some(images) = images() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = runtime.block_on(Engine::connect()).unwrap();
    // By digest, as `oe.lock` names it.
    let image = runtime.block_on(engine.pull(&images.odoo, |_| {})).unwrap();
    assert!(image.contains("@sha256:"), "{image}");
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("cache");

    let since = now();
    let odoo_dir = runtime.block_on(odoo_addons_dir(&engine, &image, &cache_dir)).unwrap();
    assert_eq!(odoo_dir, "/opt/odoo/odoo/addons");
    assert_eq!(containers_created(&since).len(), 1, "one probe container");
    // By tag: keyed by the image ID, found the same way.
    let by_tag = runtime.block_on(odoo_addons_dir(&engine, &images.odoo, &cache_dir)).unwrap();
    assert_eq!(by_tag, odoo_dir);
    // An image without Odoo says so (the postgres image has python3, no odoo).
    let none = runtime.block_on(odoo_addons_dir(&engine, &images.postgres, &cache_dir));
    assert!(matches!(none, Err(Error::NoOdoo { .. })), "{none:?}");

    let dirs = vec![odoo_dir.clone(), "/opt/odoo/addons".to_owned(), "/nonexistent/addons".into()];
    let exclude_text = "*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*,tests/*,*.md";
    let exclude = ExcludePatterns::parse(exclude_text);
    let langs = vec!["fr_BE".to_owned()];

    let since = now();
    let started = Instant::now();
    let cold = runtime
        .block_on(image_checksums(&engine, &image, &dirs, &exclude, &langs, &cache_dir))
        .unwrap();
    let cold_time = started.elapsed();
    let created = containers_created(&since);
    assert_eq!(created.len(), 1, "one container read every directory: {created:?}");
    let leftover = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("name={}", created[0])])
        .output()
        .unwrap();
    assert!(leftover.stdout.is_empty(), "container {} was not removed", created[0]);

    let expected = oracle(&image, &dirs, exclude_text, &langs);
    assert_eq!(cold.len(), 3);
    assert!(cold[0].1.contains_key("base"), "{:?}", cold[0].1.keys());
    assert!(cold[1].1.len() > 100, "{} addons in /opt/odoo/addons", cold[1].1.len());
    assert_eq!(cold[2], ("/nonexistent/addons".to_owned(), BTreeMap::new()));
    for ((dir, ours), (oracle_dir, theirs)) in cold.iter().zip(&expected) {
        assert_eq!(dir, oracle_dir);
        assert_eq!(ours.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>(), "{dir}");
        for (name, checksum) in ours {
            assert_eq!(checksum, &theirs[name], "{dir}/{name}");
        }
    }
    // Nothing stays in the cache directory but its entries.
    let mut names: Vec<String> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The two odoo-addons-dir entries (digest, image ID) and one per directory.
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.iter().all(|n| n.ends_with(".json")), "{names:?}");

    // Warm: the same answers, no container.
    let since = now();
    let started = Instant::now();
    let warm = runtime
        .block_on(image_checksums(&engine, &image, &dirs, &exclude, &langs, &cache_dir))
        .unwrap();
    let warm_dir = runtime.block_on(odoo_addons_dir(&engine, &image, &cache_dir)).unwrap();
    let warm_time = started.elapsed();
    assert_eq!(warm, cold);
    assert_eq!(warm_dir, odoo_dir);
    assert_eq!(containers_created(&since), Vec::<String>::new());
    eprintln!("image_checksums on {image}: cold {cold_time:?}, warm {warm_time:?}");

    // Other languages are another entry: computed again, from the image.
    let since = now();
    let other = runtime
        .block_on(image_checksums(&engine, &image, &dirs[..1], &exclude, &[], &cache_dir))
        .unwrap();
    assert_eq!(containers_created(&since).len(), 1);
    assert_eq!(other[0].1.keys().collect::<Vec<_>>(), cold[0].1.keys().collect::<Vec<_>>());
}
