//! The public form's single-use state under concurrent posts, and the spoken CAPTCHA.

use futures_util::future::join_all;
use reqwest::Client;

use crate::helpers::{TestApp, browser, csrf_in, location, spawn_app, spawn_app_with};
use crate::public_form::{PHONE, captcha_answer, fields, stored};

/// Loads the form (and, with CAPTCHA on, its image) and waits like a person; the CSRF token.
async fn load_form(app: &TestApp, client: &Client) -> String {
    let token = csrf_in(&app.get_html(client, "/").await);
    if app.state.settings.captcha {
        assert_eq!(app.get(client, "/captcha").await.status(), 200);
    }
    app.clock.advance(3);
    token
}

/// Posts the same filled-in form `n` times at once on one session (one cookie jar).
async fn post_at_once(app: &TestApp, client: &Client, token: &str, answer: &str, n: usize) {
    let mut form = fields("Ann", "ann@example.com", PHONE);
    form.push(("csrf_token", token));
    form.push(("captcha", answer));
    let posts = (0..n).map(|_| client.post(app.url("/")).form(&form).send());
    for res in join_all(posts).await {
        let res = res.unwrap();
        assert_eq!(
            res.status(),
            303,
            "the winner is thanked, the rest look like bots"
        );
        assert_eq!(location(&res), "/thanks");
    }
}

#[tokio::test]
async fn one_solved_captcha_posted_five_times_at_once_stores_one_submission() {
    let app = spawn_app_with(|s| s.captcha = true).await;
    let client = browser();
    let token = load_form(&app, &client).await;
    let answer = captcha_answer(&app).await.expect("a CAPTCHA was shown");
    post_at_once(&app, &client, &token, &answer, 5).await;
    assert_eq!(stored(&app).await, 1, "the answer works once");
    assert!(captcha_answer(&app).await.is_none(), "and is gone");
}

#[tokio::test]
async fn one_form_posted_five_times_at_once_stores_one_submission() {
    // CAPTCHA off: the form's ticket (when it was shown) is single-use on its own.
    let app = spawn_app().await;
    let client = browser();
    let token = load_form(&app, &client).await;
    post_at_once(&app, &client, &token, "", 5).await;
    assert_eq!(stored(&app).await, 1);
}

/// Checks a spoken CAPTCHA response: 200, `audio/wav`, not cached, a valid mono WAV of a
/// few seconds.
async fn assert_wav(res: reqwest::Response) {
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/wav");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WAVE");
    let reader = hound::WavReader::new(bytes.as_ref()).expect("a valid WAV file");
    let spec = reader.spec();
    assert_eq!(spec.channels, 1);
    let seconds = reader.duration() / spec.sample_rate;
    assert!((5..30).contains(&seconds), "{seconds} s");
    assert_eq!(
        reader.into_samples::<i16>().filter(Result::is_err).count(),
        0,
        "every sample reads"
    );
}

#[tokio::test]
async fn the_recording_says_the_shown_challenge_which_works_once() {
    let app = spawn_app_with(|s| s.captcha = true).await;
    let client = browser();

    // After the image: the recording is of the same challenge (it does not make a new one).
    load_form(&app, &client).await;
    let shown = captcha_answer(&app).await.unwrap();
    assert_wav(app.get(&client, "/captcha/audio").await).await;
    assert_wav(app.get(&client, "/captcha/audio").await).await;
    assert_eq!(captcha_answer(&app).await.as_deref(), Some(shown.as_str()));

    // Without the image (images off): the recording brings its own challenge, and its answer
    // is accepted once. (Loading the form again drops the previous form's ticket.)
    let token = csrf_in(&app.get_html(&client, "/").await);
    assert!(captcha_answer(&app).await.is_none(), "no image fetched");
    assert_wav(app.get(&client, "/captcha/audio").await).await;
    let spoken = captcha_answer(&app)
        .await
        .expect("the recording's challenge");
    app.clock.advance(3);
    let mut form = fields("Ann", "ann@example.com", PHONE);
    form.push(("csrf_token", &token));
    form.push(("captcha", &spoken));
    let res = client.post(app.url("/")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(stored(&app).await, 1);

    // The same answer again (replayed without loading the form): nothing more is stored.
    let res = client.post(app.url("/")).form(&form).send().await.unwrap();
    assert_eq!(location(&res), "/thanks");
    assert_eq!(stored(&app).await, 1, "single-use");
}

#[tokio::test]
async fn the_recording_counts_against_the_image_limit() {
    let app = spawn_app_with(|s| s.captcha = true).await;
    let client = browser();
    app.get(&client, "/").await;
    for i in 0..5 {
        assert_eq!(
            app.get(&client, "/captcha").await.status(),
            200,
            "image {i}"
        );
        assert_eq!(
            app.get(&client, "/captcha/audio").await.status(),
            200,
            "audio {i}"
        );
    }
    let res = app.get(&client, "/captcha/audio").await;
    assert_eq!(res.status(), 429, "ten of either, together");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.get(&client, "/captcha").await.status(), 429);
}
