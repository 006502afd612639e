//! Loom models of the status board's state protocol: `di-hosting/src/status/kinds.rs`, included
//! below as it is, driven the way `StatusBoard` (`di-hosting/src/status/mod.rs`) drives it.
//!
//! Built only with `RUSTFLAGS="--cfg loom"` (see `.ci/run`): the included file then uses loom's
//! lock and atomics, so loom explores every interleaving of plain kinds set without the lock,
//! kinds with data set under it, and snapshots taken under it. A broken claim shows up as a
//! failed assertion.
//!
//! Each model is two threads and a handful of operations, small enough for loom to explore every
//! interleaving (a few dozen executions, milliseconds): unbounded unless `LOOM_MAX_PREEMPTIONS`
//! is set, and `.ci/run` leaves it unset here. Each model also counts, across executions, the
//! cases it is about, and fails if loom never reached one.

#![cfg(loom)]

#[path = "../../src/status/kinds.rs"]
mod kinds;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize as StdCounter;

use kinds::Kinds;
use loom::thread;

/// Runs `f` in every interleaving, or within `LOOM_MAX_PREEMPTIONS` preemptions per execution
/// if that is set.
fn model(f: impl Fn() + Sync + Send + 'static) {
    loom::model::Builder::new().check(f);
}

/// Which cases a model's executions reached, counted across them (outside the model: `std`
/// atomics), so a model checks that loom explored the interleavings it is about.
#[derive(Debug)]
struct Coverage<const N: usize>([StdCounter; N]);

impl<const N: usize> Coverage<N> {
    const fn new() -> Self {
        Self([const { StdCounter::new(0) }; N])
    }

    fn hit(&self, case: usize) {
        self.0[case].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn assert_reached(&self, names: [&str; N]) {
        for (counter, name) in self.0.iter().zip(names) {
            let n = counter.load(std::sync::atomic::Ordering::Relaxed);
            assert!(n > 0, "loom explored no execution where {name}");
        }
    }
}

/// The kinds of `status::kind`.
const CREATED: u8 = 0;
const STARTING: u8 = 1;
const RUNNING: u8 = 2;
const STOPPING: u8 = 3;
const STOPPED: u8 = 4;
const FAILED: u8 = 5;
const RESTARTING: u8 = 6;

/// `ServiceState`, with the data of `Failed` and `Restarting`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum State {
    #[default]
    Created,
    Starting,
    Running,
    Stopping,
    Stopped,
    Failed(&'static str),
    Restarting(u32),
}

impl State {
    fn kind(&self) -> u8 {
        match self {
            Self::Created => CREATED,
            Self::Starting => STARTING,
            Self::Running => RUNNING,
            Self::Stopping => STOPPING,
            Self::Stopped => STOPPED,
            Self::Failed(_) => FAILED,
            Self::Restarting(_) => RESTARTING,
        }
    }

    /// As `ServiceState::of_kind`: a kind with data reads the data's state.
    fn of_kind(kind: u8, data: &Self) -> Self {
        match kind {
            CREATED => Self::Created,
            STARTING => Self::Starting,
            RUNNING => Self::Running,
            STOPPING => Self::Stopping,
            STOPPED => Self::Stopped,
            _ => data.clone(),
        }
    }
}

/// A board of one service; its data is the state a kind with data reads (an entry's `state`).
type Board = Kinds<State>;

const SLOT: usize = 0;

/// A registered board, its one service in state `initial` (a plain one), not yet shared.
fn board(initial: &State) -> Arc<Board> {
    let board = Board::default();
    assert_eq!(board.lock().init(1, CREATED), 1);
    board.set(SLOT, initial.kind());
    Arc::new(board)
}

/// As `StatusBoard::set_state`.
fn set_state(board: &Board, state: State) {
    match state {
        State::Failed(_) | State::Restarting(_) => {
            let to = state.kind();
            board.set_with(SLOT, to, |data| {
                *data = state;
                true
            });
        }
        plain => board.set(SLOT, plain.kind()),
    }
}

/// As `StatusBoard::snapshot`, checking that a kind with data is read with data of that kind
/// (which `snapshot` would report as another state, or as `Created` for data not yet written).
fn snapshot(board: &Board) -> State {
    let locked = board.lock();
    let kind = locked.kind(SLOT).expect("one slot");
    let state = State::of_kind(kind, &locked);
    assert_eq!(state.kind(), kind, "kind {kind} read with the data of another: {state:?}");
    state
}

fn not_failed(kind: u8) -> bool {
    kind != FAILED
}

/// Model 1: A snapshot reads each kind with its data. One thread sets `Failed("a")`, then
/// `Restarting(1)`; the other takes two snapshots meanwhile. Each snapshot is one of the states
/// set, in full (never a kind read with the other's data, or with none), the second is not older
/// than the first, and the last state set is what remains.
#[test]
fn a_snapshot_reads_each_kind_with_its_data() {
    const SEEN: [&str; 3] =
        ["a snapshot saw `Created`", "a snapshot saw `Failed(\"a\")`", "a snapshot saw `Restarting(1)`"];
    static COVERAGE: Coverage<3> = Coverage::new();
    model(|| {
        let history = [State::Created, State::Failed("a"), State::Restarting(1)];
        let board = board(&history[0]);

        let failing = {
            let board = board.clone();
            thread::spawn(move || {
                set_state(&board, State::Failed("a"));
                set_state(&board, State::Restarting(1));
            })
        };
        let seen = [snapshot(&board), snapshot(&board)].map(|state| {
            let index = history.iter().position(|set| *set == state);
            index.unwrap_or_else(|| panic!("a snapshot saw {state:?}, which was never set"))
        });
        failing.join().expect("no panic");

        assert!(seen[0] <= seen[1], "a later snapshot saw an older state: {:?}", seen.map(|i| &history[i]));
        assert_eq!(snapshot(&board), history[2], "the last state set remains");
        for index in seen {
            COVERAGE.hit(index);
        }
    });
    COVERAGE.assert_reached(SEEN);
}

/// Model 2: A failed service stays failed. The service's task sets `Failed("x")` while the host
/// stops it (`Stopping`, then `Stopped`, each only if not failed, as `phase.rs` does). The
/// final state is `Failed("x")` in every execution: a stop update either read a kind other than
/// `Failed`, and so came before the failure, which then replaced it; or it read `Failed` and
/// left it. An update that applied is never one that read `Failed`.
#[test]
fn a_failed_service_stays_failed() {
    const ORDERS: [&str; 3] = [
        "the stop applied both updates before the failure",
        "the failure came between the stop's two updates",
        "the stop found the failure at its first update",
    ];
    static COVERAGE: Coverage<3> = Coverage::new();
    model(|| {
        let board = board(&State::Running);

        let failing = {
            let board = board.clone();
            thread::spawn(move || set_state(&board, State::Failed("x")))
        };
        let stopping = board.set_if(SLOT, not_failed, STOPPING);
        let stopped = board.set_if(SLOT, not_failed, STOPPED);
        failing.join().expect("no panic");

        assert_eq!(snapshot(&board), State::Failed("x"), "a failure is never replaced by the stop");
        COVERAGE.hit(match (stopping, stopped) {
            (true, true) => 0,
            (true, false) => 1,
            (false, false) => 2,
            (false, true) => panic!("the stop applied `Stopped` after it found the failure"),
        });
    });
    COVERAGE.assert_reached(ORDERS);
}

/// Model 3: The host's `Starting -> Running` never hides a failure. The host sets `Starting`
/// and, when the service's `start` returns, `Running` only if still `Starting`. Meanwhile a
/// background service records its own states on its task: `Running` (under the lock, with its
/// stop token, as `background_started`), `Restarting(1)`, `Running` after the backoff, and
/// finally `Failed("e")`. (In a host `background_started` runs within `start`, so before the
/// host's update; here it may come either side of it.) The final state is `Failed("e")` in
/// every execution.
#[test]
fn starting_to_running_never_hides_a_failure() {
    const ORDERS: [&str; 2] =
        ["the host's update applied, before the service's own states", "the host's update found the service's state"];
    static COVERAGE: Coverage<2> = Coverage::new();
    model(|| {
        let board = board(&State::Created);
        board.set(SLOT, STARTING);

        let service = {
            let board = board.clone();
            thread::spawn(move || {
                board.set_with(SLOT, RUNNING, |_token| true);
                set_state(&board, State::Restarting(1));
                set_state(&board, State::Running);
                set_state(&board, State::Failed("e"));
            })
        };
        let applied = board.set_if(SLOT, |kind| kind == STARTING, RUNNING);
        service.join().expect("no panic");

        assert_eq!(snapshot(&board), State::Failed("e"), "the host's `Running` never replaces the failure");
        COVERAGE.hit(if applied { 0 } else { 1 });
    });
    COVERAGE.assert_reached(ORDERS);
}
