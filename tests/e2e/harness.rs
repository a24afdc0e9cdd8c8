//! The browser side of the end-to-end tests: chromedriver on a free port, one headless Chromium
//! per test (its own profile and download folder), and the checks every page goes through.
//!
//! Waiting is always explicit: for an element, for the old page to go stale after a click, for a
//! URL, for a file. Nothing sleeps for a fixed time.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use thirtyfour::LoggingPrefsLogLevel;
use thirtyfour::prelude::*;

/// How long any one wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

/// axe-core 4.14.1 (MPL-2.0), vendored from the npm registry with its licence beside it.
const AXE: &str = include_str!("fixtures/axe.min.js");

/// Runs before any script of every page: records CSP violations, uncaught errors, failed
/// resources and console errors in `window.__e2eProblems`.
const PROBE: &str = r#"
(function () {
  var problems = [];
  Object.defineProperty(window, '__e2eProblems', { value: problems });
  document.addEventListener('securitypolicyviolation', function (e) {
    problems.push('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
      ' (' + e.sourceFile + ':' + e.lineNumber + ')');
  });
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) {
      problems.push('failed to load ' + (t.src || t.href));
    } else {
      problems.push('uncaught error: ' + e.message);
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    problems.push('unhandled rejection: ' + e.reason);
  });
  ['error', 'warn'].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      problems.push('console.' + level + ': ' + Array.prototype.join.call(arguments, ' '));
      return original.apply(console, arguments);
    };
  });
})();
"#;

fn binary(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver in its own process group, so that dropping it also ends any Chromium it
/// started, even when a test panicked before the session was closed.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    async fn start() -> ChromeDriver {
        use std::os::unix::process::CommandExt;
        let path = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&path)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {path} ({e}); install chromium-driver or set CHROMEDRIVER")
                });
            let mut driver = ChromeDriver {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            match driver.wait_ready().await {
                Ok(()) => return driver,
                Err(e) => last_error = e,
            }
        }
        panic!("chromedriver did not come up: {last_error}");
    }

    /// Polls `/status` until the driver answers ready (or exits, e.g. when the port was taken).
    async fn wait_ready(&mut self) -> Result<(), String> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited with {status}"));
            }
            if let Ok(res) = client.get(format!("{}/status", self.url)).send().await
                && let Ok(body) = res.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        Err("no answer on /status".into())
    }
}

impl ChromeDriver {
    /// Ends chromedriver and every Chromium process under it (the negative id is the group).
    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.wait();
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a browser is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scripts {
    On,
    /// JavaScript disabled for every page (`--blink-settings=scriptEnabled=false`).
    Off,
}

pub struct Browser {
    /// `None` once quit.
    session: Option<WebDriver>,
    base: String,
    pub scripts: Scripts,
    pub downloads: TempDir,
    _profile: TempDir,
    chromedriver: ChromeDriver,
}

/// A test that failed leaves its browser behind: end chromedriver and Chromium directly.
impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = self.session.take() {
            self.chromedriver.kill();
            // Nothing is left to close: skip the session's own (blocking) clean-up.
            let _ = driver.leak();
        }
    }
}

impl Browser {
    /// A fresh headless Chromium at 1280×900 in the light theme, pointed at `base`.
    pub async fn start(base: &str, scripts: Scripts) -> Browser {
        let chromedriver = ChromeDriver::start().await;
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = tempfile::tempdir().expect("download dir");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&binary("CHROME_BIN", "/usr/bin/chromium"))
            .expect("binary");
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-features=Translate,MediaRouter,OptimizationHints",
            "--window-size=1280,900",
            "--hide-scrollbars",
            "--lang=en-GB",
        ] {
            caps.add_arg(arg).expect("arg");
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
            .expect("arg");
        if scripts == Scripts::Off {
            caps.add_arg("--blink-settings=scriptEnabled=false")
                .expect("arg");
        }
        caps.add_experimental_option(
            "prefs",
            json!({
                "download.default_directory": downloads.path(),
                "download.prompt_for_download": false,
                "credentials_enable_service": false,
                "profile.password_manager_enabled": false,
            }),
        )
        .expect("prefs");
        caps.set_browser_log_level(LoggingPrefsLogLevel::All)
            .expect("logging prefs");
        let driver = WebDriver::new(chromedriver.url.as_str(), caps)
            .await
            .expect("a Chromium session (is chromium installed?)");
        let browser = Browser {
            session: Some(driver),
            base: base.trim_end_matches('/').to_string(),
            scripts,
            downloads,
            _profile: profile,
            chromedriver,
        };
        browser
            .driver()
            .set_script_timeout(Duration::from_secs(60))
            .await
            .expect("script timeout");
        browser
            .driver()
            .set_page_load_timeout(Duration::from_secs(30))
            .await
            .expect("page load timeout");
        browser
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": PROBE }),
            )
            .await;
        browser
            .cdp(
                "Browser.setDownloadBehavior",
                json!({ "behavior": "allow", "downloadPath": browser.downloads.path() }),
            )
            .await;
        browser
    }

    /// The WebDriver session.
    pub fn driver(&self) -> &WebDriver {
        self.session.as_ref().expect("the browser is open")
    }

    /// Closes the session (Chromium exits), then chromedriver.
    pub async fn quit(mut self) {
        if let Some(driver) = self.session.take() {
            driver.quit().await.expect("session closed");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A raw Chrome DevTools command on the current page.
    pub async fn cdp(&self, method: &str, params: Value) -> Value {
        self.driver()
            .cdp()
            .send_raw(method, params)
            .await
            .unwrap_or_else(|e| panic!("CDP {method}: {e}"))
    }

    /// Loads `path` (the WebDriver call returns once the page has loaded).
    pub async fn open(&self, path: &str) {
        self.driver()
            .goto(self.url(path))
            .await
            .expect("page loads");
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn el(&self, css: &str) -> WebElement {
        match self
            .driver()
            .query(By::Css(css))
            .wait(WAIT, POLL)
            .first()
            .await
        {
            Ok(el) => el,
            Err(e) => panic!("no {css} on {}: {e}", self.path_now().await),
        }
    }

    pub async fn all(&self, css: &str) -> Vec<WebElement> {
        self.driver()
            .find_all(By::Css(css))
            .await
            .expect("find_all")
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.all(css).await.is_empty()
    }

    pub async fn text(&self, css: &str) -> String {
        self.el(css).await.text().await.expect("text")
    }

    /// The whole visible text of the page.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.el(css).await.attr(name).await.expect("attribute")
    }

    /// The current value of a field (its property, not the attribute it was served with).
    pub async fn value(&self, css: &str) -> String {
        self.el(css)
            .await
            .value()
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// Types `value` into a field, replacing what it held.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.el(css).await;
        field.clear().await.expect("clear");
        if !value.is_empty() {
            field.send_keys(value).await.expect("typing");
        }
    }

    /// Clicks and waits until the browser has left the current document (a link or a submit),
    /// then until the new document has loaded.
    pub async fn click_to_next_page(&self, css: &str) {
        let target = self.el(css).await;
        self.leave_page_by(|| async { target.click().await.expect("click") })
            .await;
    }

    /// Runs `action` and waits for the page it leads to.
    pub async fn leave_page_by<F, Fut>(&self, action: F)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ()>,
    {
        let old = self.driver().find(By::Tag("html")).await.expect("html");
        action().await;
        old.wait_until()
            .wait(WAIT, POLL)
            .stale()
            .await
            .expect("the browser moved to another page");
        self.wait_loaded().await;
    }

    /// Waits until the current document has loaded (the `<footer>` is the last thing every
    /// page renders; asking it also works with scripts off).
    pub async fn wait_loaded(&self) {
        self.el("footer.site-footer").await;
    }

    /// The path and query of the current page.
    pub async fn path_now(&self) -> String {
        match self.driver().current_url().await {
            Ok(url) => match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            },
            Err(e) => format!("<no url: {e}>"),
        }
    }

    /// Waits (at most `limit`) until the current path and query satisfy `want`.
    pub async fn wait_path_for(
        &self,
        what: &str,
        limit: Duration,
        want: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let path = self.path_now().await;
            if want(&path) {
                return path;
            }
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {what}; still on {path}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `css` shows a text for which `want` holds; returns that text.
    pub async fn wait_text(&self, css: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = match self.driver().find(By::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if want(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed the expected text; last: {text:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` as the body of a function in the page (WebDriver, not the page's CSP).
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.driver()
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
            .json()
            .clone()
    }

    /// Waits for a `window.confirm` dialog, checks its text, and accepts or dismisses it.
    pub async fn answer_confirm(&self, contains: &str, accept: bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(text) = self.driver().get_alert_text().await {
                assert!(
                    text.contains(contains),
                    "the dialog says {text:?}, not {contains:?}"
                );
                if accept {
                    self.driver().accept_alert().await.expect("accept");
                } else {
                    self.driver().dismiss_alert().await.expect("dismiss");
                }
                return;
            }
            assert!(Instant::now() < deadline, "no confirmation dialog appeared");
            tokio::time::sleep(POLL).await;
        }
    }

    /// The element matching `css` whose text is `text`.
    pub async fn el_with_text(&self, css: &str, text: &str) -> WebElement {
        self.el(css).await;
        for el in self.all(css).await {
            if el.text().await.expect("text").trim() == text {
                return el;
            }
        }
        panic!("no {css} reads {text:?} on {}", self.path_now().await);
    }

    /// Follows the link (or presses the button) matching `css` that reads `text`.
    pub async fn click_text_to_next_page(&self, css: &str, text: &str) {
        let target = self.el_with_text(css, text).await;
        self.leave_page_by(|| async { target.click().await.expect("click") })
            .await;
    }

    /// Waits for a file in the download folder that is complete (Chromium writes to a
    /// `.crdownload` first) and returns its path.
    pub async fn wait_download(&self, name: &str) -> PathBuf {
        let path = self.downloads.path().join(name);
        let deadline = Instant::now() + WAIT;
        loop {
            let partial = std::fs::read_dir(self.downloads.path())
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"))
                })
                .unwrap_or(false);
            if path.exists() && !partial {
                return path;
            }
            assert!(Instant::now() < deadline, "{name} was never downloaded");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Presses keys on whatever has the focus.
    pub async fn keys(&self, keys: impl Into<TypingData>) {
        self.driver()
            .action_chain()
            .send_keys(keys)
            .perform()
            .await
            .expect("keys");
    }

    /// `id` (or, failing that, a short description) of the focused element.
    pub async fn focused(&self) -> String {
        self.js(
            "var e = document.activeElement; if (!e) return ''; \
             return e.id || (e.tagName.toLowerCase() + ':' + (e.textContent || '').trim());",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Presses Tab until the focused element's id or description is `target`, checking on the
    /// way that each focused control shows a visible focus indicator.
    pub async fn tab_to(&self, target: &str) {
        for _ in 0..40 {
            self.keys(Key::Tab).await;
            let focused = self.focused().await;
            let outline = self
                .js(
                    "var s = getComputedStyle(document.activeElement); \
                     return s.outlineStyle + ' ' + s.outlineWidth;",
                    vec![],
                )
                .await;
            let outline = outline.as_str().unwrap_or_default();
            assert!(
                !outline.starts_with("none") && !outline.ends_with(" 0px"),
                "{focused} has no visible focus indicator ({outline})"
            );
            if focused == target {
                return;
            }
        }
        panic!("Tab never reached {target} on {}", self.path_now().await);
    }

    /// Light (the headless default) or dark, through the `prefers-color-scheme` media feature.
    pub async fn set_theme(&self, theme: Theme) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": theme.name() }] }),
        )
        .await;
    }

    /// No console error, failed resource or CSP violation since the last check: from the
    /// probe (pages with scripts) and from the browser's own log (every page).
    pub async fn assert_clean(&self, page: &str) {
        let mut problems: Vec<String> = Vec::new();
        if self.scripts == Scripts::On {
            let found = self
                .js(
                    "return (window.__e2eProblems || ['probe missing']).slice();",
                    vec![],
                )
                .await;
            if let Some(list) = found.as_array() {
                problems.extend(list.iter().map(|v| v.as_str().unwrap_or("?").to_string()));
            }
        }
        for entry in self.driver().browser_log().await.expect("browser log") {
            if entry.level == "SEVERE" || entry.level == "WARNING" {
                // A page that answers 4xx on purpose (a refused form) is no error of the page.
                let expected_status = entry.message.contains("Failed to load resource")
                    && entry.message.contains("status of 4")
                    && !entry.message.contains("/static/")
                    && !entry.message.contains("/captcha");
                if !expected_status {
                    problems.push(format!("{}: {}", entry.level, entry.message));
                }
            }
        }
        assert!(problems.is_empty(), "{page}: {problems:#?}");
    }

    /// Runs axe-core on the page and fails on serious or critical violations.
    pub async fn assert_accessible(&self, page: &str) {
        let has_axe = self.js("return typeof window.axe;", vec![]).await;
        if has_axe != json!("object") {
            self.js(&format!("{AXE}\n;return true;"), vec![]).await;
        }
        let result = self
            .driver()
            .execute_async(
                r#"
                var done = arguments[arguments.length - 1];
                window.axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
                  done(r.violations
                    .filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
                    .map(function (v) {
                      return v.impact + ' ' + v.id + ': ' + v.help + ' -> ' +
                        v.nodes.slice(0, 5).map(function (n) {
                          return n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\s+/g, ' ') + ']';
                        }).join(' | ');
                    }));
                }, function (e) { done(['axe failed: ' + e]); });
                "#,
                vec![],
            )
            .await
            .expect("axe runs");
        let violations = result.json().clone();
        assert_eq!(violations, json!([]), "{page}: axe found");
    }

    /// Every error message under a field is tied to that field by `aria-describedby`.
    pub async fn assert_errors_tied(&self, page: &str) {
        let loose = self
            .js(
                r#"
                var loose = [];
                document.querySelectorAll('.field-error').forEach(function (e) {
                  if (!e.textContent.trim()) return;
                  var tied = e.id && document.querySelector('[aria-describedby~="' + e.id + '"]');
                  if (!tied) loose.push(e.id || e.textContent.trim());
                });
                return loose;
                "#,
                vec![],
            )
            .await;
        assert_eq!(loose, json!([]), "{page}: error messages tied to no field");
    }

    /// At 375 CSS pixels (a small phone) nothing scrolls sideways.
    pub async fn assert_fits_narrow(&self, page: &str) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": true }),
        )
        .await;
        let sizes = self
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await;
        let wide = if sizes[0].as_i64() > sizes[1].as_i64() {
            self.js(
                r#"
                var w = window.innerWidth, out = [];
                document.querySelectorAll('body *').forEach(function (e) {
                  var r = e.getBoundingClientRect();
                  if (r.right > w + 1 && out.length < 8) out.push(e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(r.right));
                });
                return out;
                "#,
                vec![],
            )
            .await
        } else {
            json!([])
        };
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
        assert!(
            sizes[0].as_i64() <= sizes[1].as_i64(),
            "{page} scrolls sideways at 375 px: scrollWidth {} > {}; too wide: {wide}",
            sizes[0],
            sizes[1]
        );
    }

    /// The page as a small phone shows it (375 px wide), saved as `<name>-<theme>.png`.
    pub async fn screenshot_narrow(&self, name: &str, theme: Theme) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": true }),
        )
        .await;
        self.screenshot(name, theme).await;
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
    }

    /// Saves the visible part of the page as `<name>-<theme>.png` in the screenshot folder.
    pub async fn screenshot(&self, name: &str, theme: Theme) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        // Move the pointer and the focus out of the way, so hover and focus styles stay out.
        if self.scripts == Scripts::On {
            self.js(
                "if (document.activeElement) document.activeElement.blur(); window.scrollTo(0, 0);",
                vec![],
            )
            .await;
        }
        let png = self.driver().screenshot_as_png().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}-{}.png", theme.name())), png)
            .expect("screenshot written");
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn name(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

/// `E2E_SCREENSHOTS`, or `docs/screenshots` in the crate.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("E2E_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"))
}
