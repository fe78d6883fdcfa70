//! Unit tests of [`super`] with the real `git`: bare repositories in a temp dir stand for the
//! client's remotes (reached by `file://` URLs, with which `--depth` is honoured), a working
//! clone of each commits and pushes.

use std::io::Write;

use super::*;
use crate::process::Tool;

/// `git -C dir ARGS` with an identity and no user configuration; its stdout. Panics with
/// git's message when it fails.
fn git_in(dir: &Path, args: &[&str]) -> String {
    let tool = Tool::new("git")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["-c", "user.name=oe", "-c", "user.email=oe@example.invalid"])
        .arg("-C")
        .arg(dir)
        .args(args);
    let mut child = match tool.spawn_reader() {
        Err(process::Error::NotFound { .. }) => {
            panic!("git is not installed: these tests need it (contrib/test.sh installs it)")
        }
        other => other.unwrap(),
    };
    let mut out = String::new();
    child.read_to_string(&mut out).unwrap();
    child.close().unwrap_or_else(|e| panic!("git {args:?} in {}: {e}", dir.display()));
    out.trim().to_owned()
}

/// A remote: a bare repository and a working clone of it that commits and pushes.
struct Remote {
    _root: tempfile::TempDir,
    bare: PathBuf,
    work: PathBuf,
}

impl Remote {
    /// A remote whose `main` holds module `base_module` at the root.
    fn new() -> Remote {
        let root = tempfile::tempdir().unwrap();
        let bare = root.path().join("client.git");
        let work = root.path().join("work");
        git_in(root.path(), &["init", "--quiet", "--bare", "--initial-branch=main", "client.git"]);
        git_in(root.path(), &["init", "--quiet", "--initial-branch=main", "work"]);
        git_in(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        let remote = Remote { _root: root, bare, work };
        remote.commit("base_module/__manifest__.py", "{'name': 'Base module'}");
        remote
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    fn repo(&self, dir: &str, branch: Option<&str>) -> GitRepo {
        GitRepo { url: self.url(), dir: dir.to_owned(), branch: branch.map(str::to_owned) }
    }

    /// Commits `path` with `text` on the current branch and pushes it; the new commit.
    fn commit(&self, path: &str, text: &str) -> String {
        let file = self.work.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        git_in(&self.work, &["add", "--", path]);
        git_in(&self.work, &["commit", "--quiet", "-m", path]);
        git_in(&self.work, &["push", "--quiet", "origin", "HEAD"]);
        git_in(&self.work, &["rev-parse", "HEAD"])
    }

    /// Adds `count` commits to `main` in one `git fast-import`, and pushes them.
    fn add_commits(&self, count: usize) {
        let mut stream = String::new();
        for n in 0..count {
            let message = format!("commit {n}");
            let content = format!("{n}\n");
            stream.push_str(&format!(
                "commit refs/heads/main\ncommitter oe <oe@example.invalid> {} +0000\n\
                 data {}\n{message}\n",
                1_700_000_000 + n,
                message.len()
            ));
            if n == 0 {
                stream.push_str("from refs/heads/main^0\n");
            }
            stream.push_str(&format!(
                "M 644 inline counter.txt\ndata {}\n{content}\n",
                content.len()
            ));
        }
        let mut import = Tool::new("git")
            .arg("-C")
            .arg(&self.work)
            .args(["fast-import", "--quiet"])
            .spawn_writer()
            .unwrap();
        import.write_all(stream.as_bytes()).unwrap();
        import.close().unwrap();
        git_in(&self.work, &["reset", "--quiet", "--hard", "main"]);
        git_in(&self.work, &["push", "--quiet", "origin", "main"]);
    }

    fn head(&self, branch: &str) -> String {
        git_in(&self.bare, &["rev-parse", branch])
    }
}

fn sources() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_clone_is_shallow_and_a_second_one_finds_it_present() {
    let remote = Remote::new();
    remote.add_commits(60);
    let sources = sources();
    let repo = remote.repo("client", None);

    // What a killed run left behind, what a running one (pid 1) is making, and another
    // repository's.
    let stale = sources.path().join(".client.oe-clone-2147483646");
    std::fs::create_dir_all(stale.join("half")).unwrap();
    let running = sources.path().join(".client.oe-clone-1");
    let other = sources.path().join(".other.oe-clone-2147483646");
    for dir in [&running, &other] {
        std::fs::create_dir(dir).unwrap();
    }

    let cloned = clone(&repo, sources.path()).unwrap();
    assert_eq!(cloned, Cloned::Fresh { head: remote.head("main") });
    assert!(!stale.exists(), "a stale clone is left");
    assert!(running.exists(), "a running clone was removed");
    assert!(other.exists(), "another repository's clone was removed");
    std::fs::remove_dir(&running).unwrap();
    std::fs::remove_dir(&other).unwrap();
    let checkout = sources.path().join("client");
    assert_eq!(git_in(&checkout, &["rev-parse", "--is-shallow-repository"]), "true");
    assert_eq!(git_in(&checkout, &["rev-list", "--count", "HEAD"]), DEPTH.to_string());
    assert!(checkout.join("base_module/__manifest__.py").is_file());
    assert_eq!(names_in(sources.path()), ["client"], "the temporary clone is left behind");

    let again = clone(&repo, sources.path()).unwrap();
    assert_eq!(again, Cloned::Present { head: remote.head("main") });
    // Another spelling of the same URL is the same repository.
    let spelled = GitRepo { url: format!("{}/", remote.url()), ..repo };
    assert!(matches!(clone(&spelled, sources.path()).unwrap(), Cloned::Present { .. }));
}

#[test]
fn a_clone_takes_the_branch_of_the_manifest() {
    let remote = Remote::new();
    git_in(&remote.work, &["checkout", "--quiet", "-b", "17.0"]);
    let on_branch = remote.commit("sale_custom/__manifest__.py", "{'name': 'Sale'}");
    let sources = sources();

    let cloned = clone(&remote.repo("client", Some("17.0")), sources.path()).unwrap();
    assert_eq!(cloned, Cloned::Fresh { head: on_branch });
    let checkout = sources.path().join("client");
    assert_eq!(git_in(&checkout, &["symbolic-ref", "--short", "HEAD"]), "17.0");
    assert!(checkout.join("sale_custom/__manifest__.py").is_file());

    let main = clone(&remote.repo("main", None), sources.path()).unwrap();
    assert_eq!(main, Cloned::Fresh { head: remote.head("main") });
    assert!(!sources.path().join("main/sale_custom").exists());
}

#[test]
fn a_failed_clone_leaves_nothing_and_names_the_url() {
    let sources = sources();
    let url = format!("file://{}/missing.git", sources.path().display());
    let repo = GitRepo { url: url.clone(), dir: "client".into(), branch: None };

    let error = clone(&repo, sources.path()).unwrap_err();
    assert!(matches!(error, Error::Git { command: "clone", .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("missing.git"), "git's stderr is missing: {message}");
    assert!(!message.contains('\n'), "{message}");
    assert_eq!(error.exit_code(), ExitCode::Failure);
    assert!(names_in(sources.path()).is_empty(), "{:?}", names_in(sources.path()));

    // A branch that does not exist fails the same way.
    let remote = Remote::new();
    let error = clone(&remote.repo("client", Some("nope")), sources.path()).unwrap_err();
    assert!(error.to_string().contains("nope"), "{error}");
    assert!(names_in(sources.path()).is_empty(), "{:?}", names_in(sources.path()));
}

#[test]
fn a_clone_refuses_what_is_already_there_but_fills_an_empty_directory() {
    let remote = Remote::new();
    let other = Remote::new();
    let sources = sources();

    std::fs::create_dir(sources.path().join("mine")).unwrap();
    std::fs::write(sources.path().join("mine/notes"), "").unwrap();
    let error = clone(&remote.repo("mine", None), sources.path()).unwrap_err();
    assert!(matches!(error, Error::Occupied { .. }), "{error:?}");
    assert!(error.to_string().contains(&format!("{}", sources.path().join("mine").display())));
    assert_eq!(error.exit_code(), ExitCode::Exists);

    clone(&other.repo("client", None), sources.path()).unwrap();
    let error = clone(&remote.repo("client", None), sources.path()).unwrap_err();
    assert!(error.to_string().contains(&format!("a clone of {}", other.url())), "{error}");

    std::fs::create_dir(sources.path().join("empty")).unwrap();
    let cloned = clone(&remote.repo("empty", None), sources.path()).unwrap();
    assert!(matches!(cloned, Cloned::Fresh { .. }), "{cloned:?}");
    assert!(sources.path().join("empty/base_module").is_dir());
}

#[test]
fn a_directory_outside_sources_is_refused() {
    let sources = sources();
    for dir in ["..", "a/b", "/etc", "", "-x"] {
        let repo = GitRepo { url: "file:///nowhere".into(), dir: dir.into(), branch: None };
        let error = clone(&repo, sources.path()).unwrap_err();
        assert!(matches!(error, Error::BadDir(_)), "{dir}: {error:?}");
        assert!(matches!(pull(&repo, sources.path()), Err(Error::BadDir(_))), "{dir}");
    }
}

#[test]
fn a_pull_fast_forwards_and_says_what_changed() {
    let remote = Remote::new();
    let sources = sources();
    let repo = remote.repo("client", None);
    let Cloned::Fresh { head: first } = clone(&repo, sources.path()).unwrap() else { panic!() };

    let unchanged = pull(&repo, sources.path()).unwrap();
    assert_eq!(unchanged, Pulled { before: first.clone(), after: first.clone() });
    assert!(!unchanged.changed());

    let second = remote.commit("stock_custom/__manifest__.py", "{'name': 'Stock'}");
    // Python's bytecode, as Odoo leaves it, is not a local change.
    let cache = sources.path().join("client/base_module/__pycache__");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("x.cpython-311.pyc"), "").unwrap();

    let pulled = pull(&repo, sources.path()).unwrap();
    assert_eq!(pulled, Pulled { before: first, after: second.clone() });
    assert!(pulled.changed());
    let checkout = sources.path().join("client");
    assert_eq!(git_in(&checkout, &["rev-parse", "HEAD"]), second);
    assert!(checkout.join("stock_custom/__manifest__.py").is_file());
}

#[test]
fn a_pull_follows_the_branch_of_the_manifest() {
    let remote = Remote::new();
    git_in(&remote.work, &["checkout", "--quiet", "-b", "17.0"]);
    remote.commit("a/__manifest__.py", "{}");
    let sources = sources();
    let repo = remote.repo("client", Some("17.0"));
    clone(&repo, sources.path()).unwrap();
    let newer = remote.commit("b/__manifest__.py", "{}");
    // A commit on main must not come in.
    git_in(&remote.work, &["checkout", "--quiet", "main"]);
    remote.commit("c/__manifest__.py", "{}");

    let pulled = pull(&repo, sources.path()).unwrap();
    assert_eq!(pulled.after, newer);
    assert!(!sources.path().join("client/c").exists());

    let main = GitRepo { branch: Some("main".into()), ..repo };
    let error = pull(&main, sources.path()).unwrap_err();
    assert!(matches!(error, Error::OtherBranch { .. }), "{error:?}");
    assert!(error.to_string().contains("'17.0'"), "{error}");
}

#[test]
fn a_pull_refuses_local_changes_and_names_them() {
    let remote = Remote::new();
    let sources = sources();
    let repo = remote.repo("client", None);
    let Cloned::Fresh { head } = clone(&repo, sources.path()).unwrap() else { panic!() };
    remote.commit("stock_custom/__manifest__.py", "{'name': 'Stock'}");
    let checkout = sources.path().join("client");
    std::fs::write(checkout.join("notes.txt"), "by hand").unwrap();

    let error = pull(&repo, sources.path()).unwrap_err();
    let Error::LocalChanges { path, changed, more } = &error else { panic!("{error:?}") };
    assert_eq!(path, &checkout);
    assert_eq!(changed, &["notes.txt"]);
    assert_eq!(*more, 0);
    let message = error.to_string();
    assert!(message.contains(&checkout.display().to_string()), "{message}");
    assert!(message.contains("notes.txt"), "{message}");
    assert_eq!(error.exit_code(), ExitCode::Exists);
    assert_eq!(git_in(&checkout, &["rev-parse", "HEAD"]), head, "the pull went ahead");

    // A changed tracked file, and more changes than are named.
    std::fs::write(checkout.join("base_module/__manifest__.py"), "{}").unwrap();
    for n in 0..6 {
        std::fs::write(checkout.join(format!("extra{n}")), "").unwrap();
    }
    let error = pull(&repo, sources.path()).unwrap_err();
    let Error::LocalChanges { changed, more, .. } = &error else { panic!("{error:?}") };
    assert!(changed.contains(&"base_module/__manifest__.py".to_owned()), "{changed:?}");
    assert_eq!((changed.len(), *more), (CHANGES_SHOWN, 8 - CHANGES_SHOWN));
    assert!(error.to_string().contains(" and 3 more"), "{error}");
}

#[test]
fn a_pull_of_a_diverged_checkout_is_refused() {
    let remote = Remote::new();
    let sources = sources();
    let repo = remote.repo("client", None);
    clone(&repo, sources.path()).unwrap();
    let checkout = sources.path().join("client");
    std::fs::write(checkout.join("local.txt"), "committed on the server").unwrap();
    git_in(&checkout, &["add", "local.txt"]);
    git_in(&checkout, &["commit", "--quiet", "-m", "on the server"]);
    let local = git_in(&checkout, &["rev-parse", "HEAD"]);
    remote.commit("upstream.txt", "upstream");

    let error = pull(&repo, sources.path()).unwrap_err();
    assert!(matches!(error, Error::Diverged { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("diverged") && message.contains(&remote.url()), "{message}");
    assert!(message.contains(&checkout.display().to_string()), "{message}");
    assert_eq!(git_in(&checkout, &["rev-parse", "HEAD"]), local);
}

#[test]
fn a_pull_of_a_detached_checkout_is_refused() {
    let remote = Remote::new();
    let sources = sources();
    let repo = remote.repo("client", None);
    clone(&repo, sources.path()).unwrap();
    let checkout = sources.path().join("client");
    git_in(&checkout, &["checkout", "--quiet", "--detach"]);
    let error = pull(&repo, sources.path()).unwrap_err();
    assert!(matches!(error, Error::Detached { .. }), "{error:?}");
    assert!(error.to_string().contains(&checkout.display().to_string()), "{error}");
}

#[test]
fn only_the_usual_transports_are_allowed() {
    let sources = sources();
    let marker = sources.path().join("ran");
    // `ftp` is one git allows by default; `ext` would run a command.
    for url in
        ["ftp://127.0.0.1:1/client.git".to_owned(), format!("ext::touch {}", marker.display())]
    {
        let repo = GitRepo { url: url.clone(), dir: "client".into(), branch: None };
        let error = clone(&repo, sources.path()).unwrap_err();
        let transport = url.split(':').next().unwrap();
        let refusal = format!("transport '{transport}' not allowed");
        assert!(error.to_string().contains(&refusal), "{error}");
    }
    assert!(!marker.exists());
    assert!(names_in(sources.path()).is_empty(), "{:?}", names_in(sources.path()));
}

#[test]
fn a_pull_of_a_missing_checkout_says_so() {
    let remote = Remote::new();
    let sources = sources();
    let error = pull(&remote.repo("client", None), sources.path()).unwrap_err();
    assert!(matches!(error, Error::NotCloned { .. }), "{error:?}");
}

#[test]
fn a_missing_git_is_a_missing_tool() {
    let repo = GitRepo { url: "file:///x".into(), dir: "x".into(), branch: None };
    let error =
        failed(process::Error::NotFound { tool: "git".into(), path: "git".into() }, &repo, "clone");
    assert_eq!(error.exit_code(), ExitCode::MissingTool);
    assert!(error.to_string().contains("install"), "{error}");
}

#[test]
fn the_addons_path_lists_directories_of_modules_in_order() {
    let sources = sources();
    let touch = |path: &str| {
        let file = sources.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "{}").unwrap();
    };
    // Modules at the root of a checkout.
    touch("client/sale_custom/__manifest__.py");
    touch("client/stock_custom/__manifest__.py");
    // A module's own subdirectories are not looked into.
    touch("client/stock_custom/tests/fake/__manifest__.py");
    touch("client/.github/hidden/__manifest__.py");
    // Modules one and two levels down, in an old-style module, three levels down (too deep).
    touch("enterprise/addons/web_studio/__manifest__.py");
    touch("enterprise/odoo/addons/base_old/__openerp__.py");
    touch("enterprise/a/b/c/too_deep/__manifest__.py");
    touch("enterprise/README.md");
    // One module at the root is enough for the checkout itself to be listed, first.
    touch("enterprise/loose/__manifest__.py");
    let repo = |dir: &str| GitRepo { url: format!("file:///{dir}"), dir: dir.into(), branch: None };
    let repos = [repo("enterprise"), repo("missing"), repo("client")];

    let found = addons_path(sources.path(), &repos);
    let expected: Vec<PathBuf> =
        ["enterprise", "enterprise/addons", "enterprise/odoo/addons", "client"]
            .iter()
            .map(|dir| sources.path().join(dir))
            .collect();
    assert_eq!(found, expected);
}

#[test]
fn changed_paths_reads_porcelain_z() {
    let status = "?? notes.txt\0 M a/b.py\0R  new.py\0old.py\0";
    assert_eq!(changed_paths(status), ["notes.txt", "a/b.py", "new.py"]);
    assert!(changed_paths("").is_empty());
}
