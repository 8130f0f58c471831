//! The real `shipgate serve` process: started, waited for on `/healthz`, stopped.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running `shipgate serve`; killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Reads stderr to its end on a thread, so that the pipe never fills up and blocks the
    /// server.
    stderr: Option<JoinHandle<String>>,
}

impl ServeProcess {
    /// Runs `shipgate serve ARGS` in the crate root and waits until `/healthz` answers on
    /// 127.0.0.1:`port` (which `ARGS` or the configuration must make it listen on).
    pub fn start<I, S>(args: I, port: u16) -> ServeProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::start_with_env(args, std::iter::empty::<(&str, &str)>(), port)
    }

    /// [`start`](Self::start) with `env` added to the process's environment.
    pub fn start_with_env<I, S, E, K, V>(args: I, env: E, port: u16) -> ServeProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
        E: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        // `option_env!`: this module is also compiled into `examples/seed_signed_image`, where
        // cargo defines no binary path.
        let Some(binary) = option_env!("CARGO_BIN_EXE_shipgate") else {
            panic!("`shipgate serve` can only be started from the integration tests");
        };
        let mut child = Command::new(binary)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("serve")
            .args(args)
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shipgate serve");
        let mut pipe = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        let mut serve = ServeProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stderr: Some(stderr),
        };
        let http = super::oci::agent();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{}/healthz", serve.base)).call().is_err() {
            if let Some(status) = serve.child.try_wait().expect("try_wait") {
                panic!("serve exited early ({status}): {}", serve.stop_and_logs());
            }
            assert!(Instant::now() < deadline, "serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP: `shipgate serve` reloads its policies and configuration.
    pub fn hup(&self) {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -HUP {pid}");
    }

    /// `GET /readyz`: its status and JSON body.
    pub fn readyz(&self) -> (u16, serde_json::Value) {
        let mut resp = super::oci::agent()
            .get(format!("{}/readyz", self.base))
            .call()
            .expect("GET /readyz");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().expect("/readyz body");
        (status, serde_json::from_str(&text).expect("/readyz JSON"))
    }

    /// Polls `/readyz` (for a minute at most) until `done` holds for its `reload` object;
    /// returns the whole body.
    pub fn wait_reload(
        &self,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, body) = self.readyz();
            if done(&body["reload"]) {
                return body;
            }
            assert!(Instant::now() < deadline, "waited for {what}: {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `limit` for the process to exit by itself (e.g. after a signal).
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process (if still running) and returns everything it wrote to stderr.
    pub fn stop_and_logs(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
