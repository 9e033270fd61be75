//! Page objects: the one place that knows the dashboard's markup. Every step checks the
//! page for exceptions and console errors (see `testkit::rigs::chromium`), so a panic in the
//! app fails the step that caused it.

use patchbay_testkit::rigs::fantoccini::Locator;
use patchbay_testkit::rigs::fantoccini::elements::Element;

use crate::harness::Browser;

pub struct Dashboard<'a> {
    pub browser: &'a Browser,
}

/// What a card shows.
#[derive(Debug, PartialEq, Eq)]
pub struct CardView {
    pub connector: String,
    pub title: String,
    /// `connected` or `disconnected`, from the badge's `data-state`.
    pub state: String,
    pub badge: String,
    pub detail: String,
}

impl<'a> Dashboard<'a> {
    pub async fn open(browser: &'a Browser, url: &str) -> Dashboard<'a> {
        browser.client.goto(url).await.expect("navigate");
        Dashboard { browser }
    }

    /// Waits for `n` cards and reads them all.
    pub async fn cards(&self, n: usize) -> Vec<CardView> {
        self.browser.wait_for_count("article.card", n).await;
        let mut out = Vec::new();
        for card in self
            .browser
            .client
            .find_all(Locator::Css("article.card"))
            .await
            .unwrap()
        {
            let badge = card.find(Locator::Css(".badge")).await.unwrap();
            out.push(CardView {
                connector: card
                    .attr("data-connector")
                    .await
                    .unwrap()
                    .unwrap_or_default(),
                title: card
                    .find(Locator::Css("h2"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
                state: badge.attr("data-state").await.unwrap().unwrap_or_default(),
                badge: badge.text().await.unwrap(),
                detail: card
                    .find(Locator::Css(".detail"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
            });
        }
        out
    }

    pub async fn pairing_help(&self) -> String {
        self.browser.wait_for_count("section.pairing", 1).await;
        self.browser.text_of("section.pairing").await
    }

    pub async fn banner(&self) -> String {
        self.browser.wait_for_count("[data-testid=banner]", 1).await;
        self.browser.text_of("[data-testid=banner]").await
    }

    /// The person comes back to this tab from another one (the window gets the focus).
    pub async fn return_to_tab(&self) {
        self.browser
            .client
            .execute("window.dispatchEvent(new Event('focus'))", vec![])
            .await
            .expect("focus");
        self.browser.check_page().await;
    }

    pub async fn current_url(&self) -> String {
        self.browser.client.current_url().await.unwrap().to_string()
    }
}

impl<'a> Dashboard<'a> {
    /// The card of one connector (`gdrive`, `onedrive`, `github`, `vercel`, `manus`, `mcp`,
    /// `agents`).
    pub fn card(&self, connector: &'static str) -> Card<'a> {
        Card {
            browser: self.browser,
            connector,
        }
    }

    /// Waits until the page-wide banner is gone.
    pub async fn banner_cleared(&self) {
        self.browser
            .wait_until("the banner to clear", || async {
                self.browser
                    .client
                    .find_all(Locator::Css("[data-testid=banner]"))
                    .await
                    .map(|v| v.is_empty())
                    .unwrap_or(false)
            })
            .await;
    }

    /// Screenshots of the whole page in the light and the dark scheme, into the e2e artefacts
    /// (`target/screenshots/dashboard-{name}-{light,dark}.png`).
    pub async fn snap(&self, name: &str) {
        snap_both(self.browser, "body", &format!("dashboard-{name}")).await;
    }

    /// Loads the page again, as a person pressing reload.
    pub async fn reload(&self) {
        self.browser.client.refresh().await.expect("reload");
        self.browser.check_page().await;
    }
}

/// `css` as it looks in the light and in the dark scheme, as `{name}-light.png` and
/// `{name}-dark.png`; the page is left light.
async fn snap_both(browser: &Browser, css: &str, name: &str) {
    for dark in [false, true] {
        browser.color_scheme(dark).await;
        let scheme = if dark { "dark" } else { "light" };
        browser
            .screenshot_of(css, &format!("{name}-{scheme}"))
            .await;
    }
    browser.color_scheme(false).await;
    browser.check_page().await;
}

/// One connector card and what a person does on it.
pub struct Card<'a> {
    browser: &'a Browser,
    connector: &'static str,
}

impl Card<'_> {
    fn css(&self, inner: &str) -> String {
        format!("article.card[data-connector={}] {inner}", self.connector)
    }

    /// The element `inner`, once there is one, and its whole selector.
    async fn element(&self, inner: &str) -> (Element, String) {
        let css = self.css(inner);
        self.browser.wait_for_count(&css, 1).await;
        let found = self.browser.client.find(Locator::Css(&css)).await;
        (found.unwrap_or_else(|e| panic!("{css}: {e}")), css)
    }

    async fn click(&self, inner: &str) {
        let (button, css) = self.element(inner).await;
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        self.browser.check_page().await;
    }

    async fn fill(&self, inner: &str, text: &str) {
        let (field, _) = self.element(inner).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
        self.browser.check_page().await;
    }

    /// Every element `inner` matches right now.
    async fn all(&self, inner: &str) -> Vec<Element> {
        self.browser
            .client
            .find_all(Locator::Css(&self.css(inner)))
            .await
            .unwrap_or_default()
    }

    /// The `href` of the link `inner`, once there is one.
    async fn href(&self, inner: &str) -> String {
        let (link, css) = self.element(inner).await;
        link.attr("href")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{css} has no address"))
    }

    /// Waits until `inner` shows text containing `needle`; returns the whole text.
    async fn text_containing(&self, inner: &str, needle: &str) -> String {
        let css = self.css(inner);
        self.browser
            .wait_for(&format!("{css} to say {needle:?}"), || async {
                for el in self.all(inner).await {
                    let text = el.text().await.unwrap_or_default();
                    if text.contains(needle) {
                        return Some(text);
                    }
                }
                None
            })
            .await
    }

    /// Screenshots of this card as it is now (`state` names it), light and dark:
    /// `target/screenshots/card-{connector}-{state}-{light,dark}.png`.
    pub async fn snap(&self, state: &str) {
        let name = format!("card-{}-{state}", self.connector);
        snap_both(self.browser, &self.css(""), &name).await;
    }

    /// The badge's `data-state` once it is `state` (`connected` / `disconnected`).
    pub async fn wait_state(&self, state: &str) {
        self.browser
            .wait_for_count(&self.css(&format!(".badge[data-state={state}]")), 1)
            .await;
    }

    /// Whether the badge's `data-state` is `state` right now.
    pub async fn is_state(&self, state: &str) -> bool {
        !self
            .all(&format!(".badge[data-state={state}]"))
            .await
            .is_empty()
    }

    /// "Connected as …" once it contains `needle`.
    pub async fn account(&self, needle: &str) -> String {
        self.text_containing("[data-testid=account]", needle).await
    }

    /// A problem line on the card once it contains `needle`.
    pub async fn problem(&self, needle: &str) -> String {
        self.text_containing("[data-testid=problem]", needle).await
    }

    /// A good-news line once it contains `needle`.
    pub async fn notice(&self, needle: &str) -> String {
        self.text_containing("[data-testid=notice]", needle).await
    }

    /// The "needs setup" block, once the badge says so: its sentence, and the settings it
    /// lists (folded away, so read from the page, not from what is drawn).
    pub async fn needs_setup(&self) -> (String, String) {
        self.browser
            .wait_for_count(&self.css(".badge[data-setup=needed]"), 1)
            .await;
        let css = self.css("[data-testid=setup]");
        self.browser.wait_for_count(&css, 1).await;
        let block = self.browser.client.find(Locator::Css(&css)).await.unwrap();
        let settings = block
            .find(Locator::Css("details"))
            .await
            .unwrap()
            .prop("textContent")
            .await
            .unwrap()
            .unwrap_or_default();
        (block.text().await.unwrap(), settings)
    }

    /// Where the "needs setup" block's "How to set it up" link goes, resolved against the
    /// page's address.
    pub async fn setup_docs(&self) -> String {
        let (link, css) = self.element("[data-testid=setup] a").await;
        link.prop("href")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{css} has no address"))
    }

    /// Whatever problem lines the card shows right now.
    pub async fn problems_now(&self) -> Vec<String> {
        let mut out = Vec::new();
        for el in self.all("[data-testid=problem]").await {
            out.push(el.text().await.unwrap_or_default());
        }
        out
    }

    // ---- Drive / OneDrive ----------------------------------------------------------------

    /// Opens the name step.
    pub async fn connect(&self) {
        self.click("[data-action=connect]").await;
    }

    /// Types a remote name (replacing what is there); returns the inline message.
    pub async fn type_name(&self, name: &str, expect: &str) -> String {
        self.fill("form[data-form=remote-name] input[type=text]", name)
            .await;
        self.text_containing("[data-testid=name-message]", expect)
            .await
    }

    pub async fn continue_(&self) {
        self.click("form[data-form=remote-name] button[type=submit]")
            .await;
    }

    /// The sign-in link, once the flow is waiting for approval.
    pub async fn auth_link(&self) -> String {
        self.href("[data-testid=auth-link]").await
    }

    /// Follows the sign-in link in a new tab, as a person would.
    pub async fn open_auth_link(&self) {
        self.click("[data-testid=auth-link]").await;
    }

    pub async fn paste_redirect(&self, url: &str) {
        self.fill("form.paste input", url).await;
        self.click("form.paste button[type=submit]").await;
    }

    /// Waits for the completed step; returns its text.
    pub async fn completed(&self) -> String {
        self.text_containing("[data-step=completed]", "Connected")
            .await
    }

    pub async fn done(&self) {
        self.click("[data-step=completed] button").await;
    }

    pub async fn cancel_flow(&self) {
        self.click("[data-action=cancel-flow]").await;
    }

    /// Whether the connect button is back (no flow open).
    pub async fn wait_idle(&self) {
        self.browser
            .wait_for_count(&self.css("[data-action=connect]"), 1)
            .await;
    }

    /// The remotes (or servers) listed, by name.
    pub async fn remotes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for li in self.all("li[data-remote]").await {
            // The list may be redrawn while it is read: a stale row reads as "?", and the
            // waits retry.
            match li.attr("data-remote").await {
                Ok(Some(name)) => out.push(name),
                _ => out.push("?".into()),
            }
        }
        out
    }

    pub async fn wait_remotes(&self, expected: &[&str]) {
        self.browser
            .wait_until(&format!("remotes {expected:?}"), || async {
                self.remotes().await == expected
            })
            .await;
    }

    /// Disconnect, then the confirmation: returns the question that was asked.
    pub async fn delete_remote(&self, name: &str) -> String {
        let row = format!("li[data-remote={name}]");
        self.click(&format!("{row} [data-action=ask]")).await;
        let question = self
            .text_containing(&format!("{row} .confirm"), "Disconnect")
            .await;
        self.click(&format!("{row} [data-action=confirm]")).await;
        question
    }

    // ---- Token forms (GitHub, Manus, Vercel) ------------------------------------------------

    pub async fn use_token(&self) {
        self.click("[data-action=use-token]").await;
    }

    pub async fn save_token(&self, token: &str) {
        self.fill("form.token-form input", token).await;
        self.click("form.token-form button[type=submit]").await;
    }

    /// Disconnect, then the confirmation.
    pub async fn disconnect(&self) {
        self.click(".actions [data-action=ask]").await;
        self.click(".actions [data-action=confirm]").await;
    }

    // ---- GitHub device flow ------------------------------------------------------------------

    pub async fn start_device_flow(&self) {
        self.click("[data-action=device]").await;
    }

    pub async fn device_code(&self) -> String {
        self.text_containing("[data-testid=user-code]", "").await
    }

    pub async fn verification_link(&self) -> String {
        self.href("[data-testid=verification-link]").await
    }

    pub async fn countdown(&self) -> String {
        self.text_containing("[data-testid=countdown]", "expires")
            .await
    }

    // ---- Vercel ------------------------------------------------------------------------------

    pub async fn start_oauth(&self) {
        self.click("[data-action=oauth]").await;
    }

    /// "I've approved: check now", if the card still offers it (it goes once connected).
    pub async fn check_now(&self) {
        if let Some(button) = self.all("[data-action=check]").await.into_iter().next() {
            // The card may turn connected, and drop the button, at any moment.
            let _ = button.click().await;
            self.browser.check_page().await;
        }
    }

    // ---- MCP ---------------------------------------------------------------------------------

    /// Opens "Add a server", types `url`, and returns the inline message once it contains
    /// `expect`.
    pub async fn type_server_url(&self, url: &str, expect: &str) -> String {
        self.add_server(url).await;
        self.text_containing("[data-testid=name-message]", expect)
            .await
    }

    /// Adds a server by URL (starts its sign-in).
    pub async fn add_server(&self, url: &str) {
        if self.all("form[data-form=server-url]").await.is_empty() {
            self.click("[data-action=connect]").await;
        }
        self.fill("form[data-form=server-url] input", url).await;
        self.click("form[data-form=server-url] button[type=submit]")
            .await;
    }

    /// The servers listed, with the words of their token state.
    pub async fn servers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for li in self.all("li[data-server]").await {
            let url = li.attr("data-server").await.unwrap().unwrap_or_default();
            let state = within(&li, "[data-token-state]")
                .await
                .text()
                .await
                .unwrap();
            out.push((url, state));
        }
        out
    }

    // ---- Agents ------------------------------------------------------------------------------

    /// The row of `client`'s pending request once it is listed: its whole text.
    pub async fn agent_request(&self, client: &str) -> String {
        self.text_containing("li[data-request]", client).await
    }

    /// The row of the approved `client` once it is listed: its whole text.
    pub async fn agent_client(&self, client: &str) -> String {
        self.text_containing("li[data-client]", client).await
    }

    /// Whether any approved or pending row names `client` right now.
    pub async fn lists_agent(&self, client: &str) -> bool {
        for li in self.all("li[data-request], li[data-client]").await {
            if li.text().await.unwrap_or_default().contains(client) {
                return true;
            }
        }
        false
    }

    /// Approve (`approve`) or Deny (`deny`) on `client`'s pending request.
    pub async fn decide_request(&self, client: &str, verb: &str) {
        let row = self.row("li[data-request]", client).await;
        self.click_in(&row, &format!("[data-action={verb}]")).await;
    }

    /// Disconnect on the approved `client`, then the confirmation: returns the question.
    pub async fn disconnect_agent(&self, client: &str) -> String {
        let row = self.row("li[data-client]", client).await;
        self.click_in(&row, "[data-action=ask]").await;
        let question = within(&row, ".confirm").await.text().await.unwrap();
        self.click_in(&row, "[data-action=confirm]").await;
        question
    }

    async fn click_in(&self, row: &Element, css: &str) {
        let button = within(row, css).await;
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        self.browser.check_page().await;
    }

    /// The row `inner` whose text contains `needle`, once there is one.
    async fn row(&self, inner: &str, needle: &str) -> Element {
        self.text_containing(inner, needle).await;
        for el in self.all(inner).await {
            if el.text().await.unwrap_or_default().contains(needle) {
                return el;
            }
        }
        panic!("{inner} naming {needle:?} went away")
    }
}

/// The element `css` inside `row`.
async fn within(row: &Element, css: &str) -> Element {
    row.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}
