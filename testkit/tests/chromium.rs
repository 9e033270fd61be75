//! The browser rig itself, in the real Chromium: it must see every page exception and
//! `console.error`, and fail the test that leaves one behind, or a panicking dashboard could
//! pass the end-to-end tests.

use patchbay_testkit::FakeServer;
use patchbay_testkit::rigs::Browser;

/// A page that does what a panicking wasm app does: `console.error` (the panic hook's
/// message), then an uncaught exception (`RuntimeError: unreachable`), plus a request that
/// fails, which is not a page error.
fn broken_page() -> FakeServer {
    let html = r#"<!doctype html><title>broken</title><script>
        fetch("http://127.0.0.1:9/api/health").catch(function () {});
        console.error("panicked at app/src/cards/remotes.rs:1:1: disposed");
        setTimeout(function () { throw new Error("unreachable"); }, 0);
        console.log("an ordinary message");
    </script>"#;
    FakeServer::start(axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    ))
}

/// The page errors once there are `n` (the exception comes a moment after the load).
async fn errors_at_least(browser: &Browser, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let errors = browser.page_errors().await.unwrap();
        if errors.len() >= n || std::time::Instant::now() > deadline {
            return errors;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn page_exceptions_and_console_errors_are_caught_and_fail_the_close() {
    let page = broken_page();
    let browser = Browser::start("rig-page-errors").await;
    browser.client.goto(&page.url()).await.unwrap();
    let errors = errors_at_least(&browser, 2).await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("[console-api]") && errors[0].contains("panicked at"));
    assert!(errors[1].contains("[javascript]") && errors[1].contains("unreachable"));
    let closed = browser.try_close().await;
    let message = closed.unwrap_err();
    assert!(
        message.contains("2 error(s)") && message.contains("panicked at"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_page_closes_cleanly() {
    let page = FakeServer::start(axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Html("<!doctype html><p>fine</p>") }),
    ));
    let browser = Browser::start("rig-clean").await;
    browser.client.goto(&page.url()).await.unwrap();
    browser.wait_for_count("p", 1).await;
    browser.check_page().await;
    assert_eq!(browser.try_close().await, Ok(()));
}

#[test]
fn dropping_a_browser_after_a_page_error_fails_the_test() {
    let page = broken_page();
    let outcome = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let browser = Browser::start("rig-dropped").await;
            browser.client.goto(&page.url()).await.unwrap();
            errors_at_least(&browser, 2).await;
            // Dropped without `close()`: the drop must still report the errors.
        });
    })
    .join();
    let panic = outcome.expect_err("the drop did not fail");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("unreachable"), "{message}");
}
