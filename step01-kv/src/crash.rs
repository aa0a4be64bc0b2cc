//! Crash tests with real processes: the pieces every step that keeps data on
//! disk shares.
//!
//! A crash test starts a writer process, SIGKILLs it at a random moment,
//! reopens the store and checks that every write the writer reported as
//! acknowledged survived. Each such test needs the same three things, kept
//! here so that step 1's test and later steps' tests do not copy them:
//!
//! * a [`CrashPlan`]: how many kills (`MINIDYNAMO_CRASH_KILLS`, so that
//!   `cargo xtask crash --kills N` can ask for more) and the seed of the
//!   random kill times (`MINIDYNAMO_CRASH_SEED`, to replay a failing run);
//! * a [`CrashRng`]: a tiny seeded generator, so the same seed gives the same
//!   schedule;
//! * self-checking values ([`value_for`], [`check_intact`]): every value is
//!   its key repeated, so a reader can tell a damaged value from a good one
//!   without knowing which write produced it;
//! * the kill itself ([`run_and_kill`]) and the writer's report as it was
//!   when it died ([`complete_lines`]).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable holding the number of kills.
pub const KILLS_ENV: &str = "MINIDYNAMO_CRASH_KILLS";
/// The environment variable holding the seed of a run to replay.
pub const SEED_ENV: &str = "MINIDYNAMO_CRASH_SEED";

/// How many times to kill the writer, and the seed of the kill schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashPlan {
    pub kills: u64,
    pub seed: u64,
}

impl CrashPlan {
    /// The plan from the environment: [`KILLS_ENV`] or `kills_default`
    /// kills, and [`SEED_ENV`] or a seed taken from the clock.
    pub fn from_env(kills_default: u64) -> Result<CrashPlan, String> {
        let clock_seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |elapsed| elapsed.as_nanos() as u64);
        CrashPlan::parse(
            std::env::var(KILLS_ENV).ok().as_deref(),
            std::env::var(SEED_ENV).ok().as_deref(),
            kills_default,
            clock_seed,
        )
    }

    /// The plan from the variables' texts, if set.
    pub fn parse(
        kills: Option<&str>,
        seed: Option<&str>,
        kills_default: u64,
        seed_default: u64,
    ) -> Result<CrashPlan, String> {
        let number = |name: &str, text: Option<&str>, default: u64| match text {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("{name} must be a number, not {text:?}")),
        };
        Ok(CrashPlan {
            kills: number(KILLS_ENV, kills, kills_default)?,
            seed: number(SEED_ENV, seed, seed_default)?,
        })
    }

    /// The generator of this plan's kill schedule.
    pub fn rng(&self) -> CrashRng {
        CrashRng::new(self.seed)
    }
}

/// xorshift64*: a seeded generator, so a failing run can be replayed.
#[derive(Clone, Debug)]
pub struct CrashRng(u64);

impl CrashRng {
    pub fn new(seed: u64) -> CrashRng {
        // xorshift never leaves zero: keep the state odd.
        CrashRng(seed | 1)
    }

    /// A number in `0..bound` (`0` when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}

/// The value a crash writer stores under `key` on its `counter`th write:
/// the key repeated between 1 and `repeats_max` times, so values vary in size.
pub fn value_for(key: &str, counter: u32, repeats_max: usize) -> Vec<u8> {
    key.repeat(1 + (counter as usize * 7) % repeats_max.max(1))
        .into_bytes()
}

/// Checks that `value` is `key` repeated at least once, as [`value_for`]
/// writes it; the error names the key.
pub fn check_intact(key: &[u8], value: &[u8]) -> Result<(), String> {
    let intact = !key.is_empty()
        && !value.is_empty()
        && value.len().is_multiple_of(key.len())
        && value.chunks(key.len()).all(|chunk| chunk == key);
    if intact {
        Ok(())
    } else {
        Err(format!(
            "value of {} is damaged ({} bytes)",
            String::from_utf8_lossy(key),
            value.len()
        ))
    }
}

/// Starts `writer DIR ROUND THREADS`, lets it run for `run`, SIGKILLs it
/// and returns what it printed on standard output. A writer that exited by
/// itself before the kill is an error, with what it said on standard error.
pub fn run_and_kill(
    writer: &Path,
    dir: &Path,
    round: u64,
    threads: u32,
    run: Duration,
) -> Result<Vec<u8>, String> {
    let mut child = Command::new(writer)
        .arg(dir)
        .arg(round.to_string())
        .arg(threads.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", writer.display()))?;
    let mut stdout = child.stdout.take().ok_or("the writer has no stdout")?;
    // Read while it runs, so a full pipe never blocks the writer.
    let reader = std::thread::spawn(move || {
        let mut output = Vec::new();
        stdout.read_to_end(&mut output).map(|_| output)
    });
    std::thread::sleep(run);
    if let Ok(Some(status)) = child.try_wait() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        return Err(format!("the writer exited by itself ({status}): {stderr}"));
    }
    child
        .kill()
        .map_err(|e| format!("killing the writer: {e}"))?; // SIGKILL
    child
        .wait()
        .map_err(|e| format!("reaping the writer: {e}"))?;
    reader
        .join()
        .map_err(|_| "the output reader panicked".to_string())?
        .map_err(|e| format!("reading the writer's output: {e}"))
}

/// The lines of a killed writer's output that it finished: a last line
/// without its newline was cut by the kill and is not a report we got.
pub fn complete_lines(output: &[u8]) -> impl Iterator<Item = &str> {
    let complete = match output.iter().rposition(|&b| b == b'\n') {
        Some(end) => &output[..=end],
        None => &[],
    };
    complete
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| std::str::from_utf8(line).unwrap_or("").trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_takes_the_environment_or_the_defaults() {
        assert_eq!(
            CrashPlan::parse(None, None, 20, 7),
            Ok(CrashPlan { kills: 20, seed: 7 })
        );
        assert_eq!(
            CrashPlan::parse(Some("200"), Some(" 42 "), 20, 7),
            Ok(CrashPlan {
                kills: 200,
                seed: 42
            })
        );
        assert!(CrashPlan::parse(Some("many"), None, 20, 7).is_err());
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_within_bounds() {
        let draw = |seed| {
            let mut rng = CrashRng::new(seed);
            (0..100).map(|_| rng.below(250)).collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
        assert_ne!(draw(9), draw(10));
        assert!(draw(9).iter().all(|&n| n < 250));
        assert_eq!(CrashRng::new(3).below(0), 0);
    }

    #[test]
    fn values_check_themselves() {
        for counter in 0..50 {
            let value = value_for("k/1", counter, 23);
            assert!(check_intact(b"k/1", &value).is_ok());
            assert!(value.len() <= 3 * 23);
        }
        assert!(check_intact(b"k/1", b"").is_err());
        assert!(check_intact(b"k/1", b"k/1k/2").is_err());
        assert!(check_intact(b"k/1", b"k/1k/").is_err());
    }

    #[test]
    fn a_line_cut_by_the_kill_is_not_reported() {
        let lines: Vec<&str> = complete_lines(b"ack a\nack b\nack c").collect();
        assert_eq!(lines, ["ack a", "ack b"]);
        assert_eq!(complete_lines(b"ack").count(), 0);
        assert_eq!(complete_lines(b"").count(), 0);
    }
}
