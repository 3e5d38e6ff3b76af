//! The scripted service's callbacks (ml-protocol.md §2) against a tiny stand-in for triage's
//! completion endpoint.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use triage_domain::JobId;
use triage_domain::ports::{Inference, Submission};
use triage_testkit::ml_server::{Behaviour, CallbackAuth, GARBAGE_REPORT, Outcome};

use super::{TOKEN, WAIT, read, request, setup};

/// What the receiver got: path, `Authorization`, body.
type Got = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

/// A stand-in for triage's completion endpoint: records and answers 200, or 401 on a wrong
/// token (a raw token is accepted too, like triage).
struct Receiver {
    url: String,
    got: Got,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    async fn start() -> Self {
        let got: Got = Arc::default();
        let data = web::Data::new(got.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).default_service(web::to(
                |req: HttpRequest, body: web::Json<Value>, got: web::Data<Got>| async move {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned());
                    got.lock().unwrap().push((
                        req.path().to_owned(),
                        auth.clone(),
                        body.into_inner(),
                    ));
                    let ok = auth
                        .as_deref()
                        .map(|a| a.strip_prefix("Bearer ").unwrap_or(a))
                        == Some(TOKEN);
                    if ok {
                        HttpResponse::Ok().json(json!({"status": "processing"}))
                    } else {
                        HttpResponse::Unauthorized().finish()
                    }
                },
            ))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let url = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, got, handle }
    }

    fn callback_url(&self, job: JobId) -> String {
        format!("{}/internal/jobs/{job}/completion", self.url)
    }

    fn got(&self) -> Vec<(String, Option<String>, Value)> {
        self.got.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_then_called_back_with_a_valid_report() {
    let s = setup().await;
    let rx = Receiver::start().await;
    s.ml.push(Behaviour::accept().call_back());
    let mut req = request(None);
    req.callback_url = Some(rx.callback_url(req.job_id));
    assert_eq!(s.client.submit(&req).await.unwrap(), Submission::Accepted);
    assert!(s.ml.wait_for_callbacks(1, WAIT).await);

    let record = &s.ml.callbacks_for(req.job_id)[0];
    assert_eq!(record.status, Some(200), "{record:?}");
    let key = format!("results/{}.xlsx", req.job_id);
    let report = read(&s.store, &key).await;
    let (path, auth, body) = rx.got().remove(0);
    assert_eq!(path, format!("/internal/jobs/{}/completion", req.job_id));
    assert_eq!(auth, Some(format!("Bearer {TOKEN}")));
    assert_eq!(
        body,
        json!({"status": "succeeded", "output_object": key, "file_size": report.len(),
               "file_name": format!("{}.xlsx", req.job_id), "error": null, "duration_seconds": 1.5})
    );
    triage_report::parse(&report, None, chrono::Utc::now()).unwrap();
    rx.handle.stop(false).await;
}

#[tokio::test]
async fn callback_before_the_answer_twice_and_with_a_bad_token() {
    let s = setup().await;
    let rx = Receiver::start().await;

    // Before: the callback is answered by the time /infer answers.
    let mut req = request(None);
    req.callback_url = Some(rx.callback_url(req.job_id));
    s.ml.push(Behaviour::accept().call_back_before_answer());
    s.client.submit(&req).await.unwrap();
    assert_eq!(s.ml.callbacks_for(req.job_id).len(), 1);

    // Twice.
    let mut req = request(None);
    req.callback_url = Some(rx.callback_url(req.job_id));
    s.ml.push(Behaviour::accept().call_back().call_back());
    s.client.submit(&req).await.unwrap();
    assert!(
        s.ml.wait_for(WAIT, |ml| ml.callbacks_for(req.job_id).len() == 2)
            .await
    );

    // A bad token: triage's 401 is recorded; a raw (non-Bearer) good token is fine.
    let mut req = request(None);
    req.callback_url = Some(rx.callback_url(req.job_id));
    s.ml.push(Behaviour::accept().call_back().with_callback_token("nope"));
    s.client.submit(&req).await.unwrap();
    assert!(
        s.ml.wait_for(WAIT, |ml| ml.callbacks_for(req.job_id).len() == 1)
            .await
    );
    assert_eq!(s.ml.callbacks_for(req.job_id)[0].status, Some(401));
    let raw =
        s.ml.complete_with_auth(
            req.job_id,
            Outcome::succeeded(),
            CallbackAuth::Raw(TOKEN.into()),
        )
        .await;
    assert_eq!(raw.status, Some(200));
    assert_eq!(raw.authorization.as_deref(), Some(TOKEN));
    rx.handle.stop(false).await;
}

#[tokio::test]
async fn garbage_reports_manual_completions_and_the_callback_base() {
    let s = setup().await;
    let rx = Receiver::start().await;
    s.ml.set_callback_base(Some(rx.url.clone()));

    // No callback_url in the request: the configured base is used.
    let req = request(None);
    s.ml.push(
        Behaviour::accept()
            .call_back()
            .with_outcome(Outcome::Garbage),
    );
    s.client.submit(&req).await.unwrap();
    assert!(s.ml.wait_for_callbacks(1, WAIT).await);
    let key = format!("results/{}.xlsx", req.job_id);
    assert_eq!(read(&s.store, &key).await, GARBAGE_REPORT);
    assert!(triage_report::parse(GARBAGE_REPORT, None, chrono::Utc::now()).is_err());
    assert_eq!(
        rx.got()[0].0,
        format!("/internal/jobs/{}/completion", req.job_id)
    );

    // Accepted, then completed on demand.
    let req = request(None);
    s.client.submit(&req).await.unwrap();
    let record = s.ml.complete(req.job_id).await;
    assert_eq!(record.status, Some(200));
    assert_eq!(record.body["status"], "succeeded");
    let record =
        s.ml.complete_with(req.job_id, Outcome::Failed("series unreadable".into()))
            .await;
    assert_eq!(record.body["error"], "series unreadable");
    assert_eq!(record.body["output_object"], Value::Null);
    assert_eq!(s.ml.callbacks().len(), 3);
    rx.handle.stop(false).await;
}
