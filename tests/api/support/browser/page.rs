//! What any page offers through WebDriver: go somewhere, run a script,
//! find, click and type, read text and attributes, and wait (polling) for
//! an element to reach a state, saying what the page looked like when it
//! does not.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::WindowHandle;
use serde_json::Value;

use super::Browser;

/// How long a page gets to reach an expected state.
pub const WAIT: Duration = Duration::from_secs(10);
pub(super) const POLL: Duration = Duration::from_millis(100);

/// What `Browser::wait_for` waits for, on the first element matching a selector.
#[derive(Debug, Clone, Copy)]
pub enum Is<'a> {
    /// Present and rendered.
    Shown,
    /// No matching element is rendered (absent or hidden).
    Hidden,
    /// Its rendered text contains this.
    Text(&'a str),
    /// The attribute has exactly this value.
    Attr(&'a str, &'a str),
    /// The attribute is an integer of at least this.
    AttrAtLeast(&'a str, u64),
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn reload(&self) {
        self.client.refresh().await.unwrap();
    }

    /// Opens a new tab, switches to it and loads `url` there.
    pub async fn open_tab(&self, url: &str) -> WindowHandle {
        let tab = self.client.new_window(true).await.unwrap().handle;
        self.switch_to(&tab).await;
        self.goto(url).await;
        tab
    }

    pub async fn switch_to(&self, tab: &WindowHandle) {
        self.client.switch_to_window(tab.clone()).await.unwrap();
    }

    /// Runs `script` (a function body) in the page; awaits a returned promise.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Replaces an input's value by typing, as a user would.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.unwrap()
    }

    pub async fn has_class(&self, css: &str, class: &str) -> bool {
        self.attr(css, "class")
            .await
            .is_some_and(|c| c.split_whitespace().any(|c| c == class))
    }

    pub async fn is_shown(&self, css: &str) -> bool {
        self.count_shown(css).await > 0
    }

    /// How many elements match `css` and are rendered.
    pub async fn count_shown(&self, css: &str) -> usize {
        let mut shown = 0;
        for el in self.client.find_all(Locator::Css(css)).await.unwrap() {
            if el.is_displayed().await.unwrap() {
                shown += 1;
            }
        }
        shown
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    pub async fn number(&self, css: &str, attr: &str) -> u64 {
        self.attr(css, attr)
            .await
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Polls until `cond` holds for `css`; panics after `timeout`, saying
    /// what the page looked like.
    pub async fn wait_for(&self, css: &str, cond: Is<'_>, timeout: Duration) {
        let start = Instant::now();
        let mut last_error = None;
        loop {
            match self.holds(css, cond).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => last_error = Some(e.to_string()), // e.g. a stale element
            }
            if start.elapsed() > timeout {
                panic!(
                    "{css} not {cond:?} after {timeout:?} (last error: {last_error:?}); {}",
                    self.describe().await
                );
            }
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    async fn holds(&self, css: &str, cond: Is<'_>) -> Result<bool, CmdError> {
        let found = self.client.find_all(Locator::Css(css)).await?;
        if let Is::Hidden = cond {
            for el in found {
                if el.is_displayed().await? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        let Some(el) = found.into_iter().next() else {
            return Ok(false);
        };
        Ok(match cond {
            Is::Shown => el.is_displayed().await?,
            Is::Hidden => unreachable!(),
            Is::Text(text) => el.text().await?.contains(text),
            Is::Attr(name, value) => el.attr(name).await?.as_deref() == Some(value),
            Is::AttrAtLeast(name, min) => el
                .attr(name)
                .await?
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|v| v >= min),
        })
    }

    /// Polls until `script` returns true.
    pub async fn wait_js(&self, script: &str, args: Vec<Value>, timeout: Duration, what: &str) {
        let start = Instant::now();
        loop {
            if self.js(script, args.clone()).await == Value::Bool(true) {
                return;
            }
            if start.elapsed() > timeout {
                panic!("waited {timeout:?} for {what}; {}", self.describe().await);
            }
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Saves a PNG of the page as target/screenshots/`name`; also as
    /// docs/`docs_name` with `PORTCULLIS_UPDATE_SCREENSHOT` set.
    pub async fn save_screenshot(&self, name: &str, docs_name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        // Every run saves one under target/; the README's copy in docs/ is
        // replaced only when asked, so a test run leaves the tree clean.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = root.join("target/screenshots");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(name), &png).unwrap();
        if std::env::var_os("PORTCULLIS_UPDATE_SCREENSHOT").is_some() {
            std::fs::write(root.join("docs").join(docs_name), &png).unwrap();
        }
    }
}
