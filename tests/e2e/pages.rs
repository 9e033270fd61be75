//! Page objects: the one place that knows the dashboard's markup.

use fantoccini::Locator;

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

    pub async fn current_url(&self) -> String {
        self.browser.client.current_url().await.unwrap().to_string()
    }
}
