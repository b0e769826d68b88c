use crate::helpers::{CONFIG, TestServer, config_file, recgate, shipped_config};

fn run(args: &[&str]) -> (i32, String, String) {
    let output = recgate().args(args).output().expect("recgate runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_crate_version() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("recgate {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_accepts_the_shipped_config_and_summarises_it() {
    let path = shipped_config();
    let (code, stdout, stderr) = run(&["check", "--config", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "shipped config is valid: {stderr}");
    let dir = path.parent().and_then(|d| d.to_str()).expect("utf-8 path");
    let summary = stdout
        .replace(path.to_str().expect("utf-8 path"), "config/recgate.toml")
        .replace(&format!("{dir}/"), "config/");
    insta::assert_snapshot!("check_shipped_config", summary);
}

#[test]
fn check_reads_the_config_path_from_the_environment() {
    let file = config_file(CONFIG);
    let output = recgate()
        .arg("check")
        .env("RECGATE_CONFIG", file.path())
        .output()
        .expect("runs");
    assert!(output.status.success(), "RECGATE_CONFIG is honoured");
    assert!(String::from_utf8_lossy(&output.stdout).contains("hevc-courses"));
}

#[test]
fn check_refuses_each_kind_of_bad_config_naming_file_rule_and_field() {
    let rule = |body: &str| {
        format!("[default]\nrecord = false\n[[rule]]\nname = \"bad-rule\"\nrecord = true\n{body}\n")
    };
    let cases = [
        (rule("formats = [\"wav\"]"), "field `formats`"),
        (rule("interval = { mp4 = 3 }"), "field `interval.mp4`"),
        (rule("vbitrate = { min = 9, max = 1 }"), "field `vbitrate`"),
        (rule("stream = \"~[\""), "field `stream`"),
        (rule("codec = []"), "field `codec`"),
        (rule("codec = [\"vp8\"]"), "field `codec`"),
        (rule("strem = \"x\""), "field `strem`"),
        (
            format!(
                "{}[[rule]]\nname = \"bad-rule\"\nrecord = false\n",
                rule("")
            ),
            "field `name`",
        ),
    ];
    for (text, field) in cases {
        let file = config_file(&text);
        let path = file.path().to_str().expect("utf-8 path");
        let (code, stdout, stderr) = run(&["check", "--config", path]);
        assert_eq!(code, 1, "refused:\n{text}");
        assert!(stdout.is_empty(), "nothing on stdout when refused");
        for fragment in [path, "rule \"bad-rule\"", field] {
            assert!(
                stderr.contains(fragment),
                "{fragment:?} missing from:\n{stderr}"
            );
        }
    }
}

#[test]
fn check_lists_every_error_not_only_the_first() {
    let file = config_file(
        "[default]\nrecord = false\n[[rule]]\nname = \"a\"\nrecord = true\nformats = [\"x\"]\n\
         [[rule]]\nname = \"b\"\nrecord = true\ninterval = { flv = 99999 }\n",
    );
    let (code, _, stderr) = run(&["check", "--config", file.path().to_str().expect("path")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("rule \"a\""), "{stderr}");
    assert!(stderr.contains("rule \"b\""), "{stderr}");
    assert!(stderr.contains("2 problems"), "{stderr}");
}

#[test]
fn check_of_a_missing_file_names_it() {
    let (code, _, stderr) = run(&["check", "--config", "/nonexistent/recgate.toml"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/recgate.toml"), "{stderr}");
}

#[tokio::test]
async fn decide_prints_exactly_what_the_server_answers() {
    let file = config_file(CONFIG);
    let server = TestServer::start(CONFIG).await;
    let queries = [
        (
            "domain=live.example.com&app=edu&stream=course-7&codec=h265&vbitrate=2500",
            "hevc-courses",
        ),
        ("app=seq_all&", "sample"),
        ("stream=test-1", "never-test"),
        ("", "default"),
    ];
    for (query, rule) in queries {
        let (code, stdout, stderr) = run(&[
            "decide",
            "--config",
            file.path().to_str().expect("path"),
            query,
        ]);
        assert_eq!(code, 0, "{stderr}");
        let (_, _, served) = server.get(&format!("/?{query}")).await;
        assert_eq!(
            stdout,
            format!("{served}\nrule: {rule}\n"),
            "query {query:?}"
        );
    }
}

#[tokio::test]
async fn probe_succeeds_against_a_live_server_and_fails_without_one() {
    let server = TestServer::start(CONFIG).await;
    let addr = server.addr.to_string();
    let unspecified = format!("0.0.0.0:{}", server.addr.port());
    let outcome = tokio::task::spawn_blocking(move || {
        let live = run(&["probe", "--addr", &addr]).0;
        let via_unspecified = run(&["probe", "--addr", &unspecified]).0;
        let missing_path = run(&["probe", "--addr", &addr, "--path", "/nope"]).0;
        (live, via_unspecified, missing_path)
    })
    .await
    .expect("probe ran");
    assert_eq!(outcome, (0, 0, 1), "live, 0.0.0.0 and a 404 path");
    server.shutdown().await;
    let addr = format!("127.0.0.1:{}", 1);
    assert_eq!(
        run(&["probe", "--addr", &addr]).0,
        1,
        "nothing listens on port 1"
    );
}

#[test]
fn check_describes_signing_without_the_key() {
    let file = config_file(&format!(
        "[auth]\nmode = \"enforce\"\nkey = \"abcdefghijklmnop1234\"\n{CONFIG}"
    ));
    let (code, stdout, _) = run(&["check", "--config", file.path().to_str().expect("path")]);
    assert_eq!(code, 0);
    assert!(stdout.contains("signatures     enforce"), "{stdout}");
    assert!(
        !stdout.contains("abcdefghijklmnop1234"),
        "the key is not printed"
    );
}
