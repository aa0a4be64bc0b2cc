//! The simulated network between replicas: delay, loss, duplication,
//! reordering and partitions.
//!
//! Every message gets its own random delay, so messages overtake each
//! other (reordering) without any extra machinery; a few are very slow.
//! A partition is a set of cut links: a message sent over a cut link, or
//! arriving over one, is dropped. Cutting one direction only models the
//! asymmetric failures real networks have.
//!
//! Clients are outside the partitions: they can reach every replica (so a
//! client can still talk to a leader cut off from its group — the
//! interesting case for stale reads).

use crate::rng::Rng;
use crate::types::NodeId;
use std::collections::BTreeMap;

/// How the network behaves when it is not partitioned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    pub delay_micros_min: u64,
    pub delay_micros_max: u64,
    /// A message is a "slow packet", delayed up to ten times the maximum,
    /// with this probability.
    pub slow_per_mille: u64,
    pub loss_per_mille: u64,
    pub duplicate_per_mille: u64,
}

impl NetworkConfig {
    /// No loss, no duplicates, short delays.
    pub fn reliable() -> NetworkConfig {
        NetworkConfig {
            delay_micros_min: 100,
            delay_micros_max: 1_000,
            slow_per_mille: 0,
            loss_per_mille: 0,
            duplicate_per_mille: 0,
        }
    }

    /// A random unreliable network for one run.
    pub fn random(rng: &mut Rng) -> NetworkConfig {
        let delay_micros_min = rng.range(50, 500);
        NetworkConfig {
            delay_micros_min,
            delay_micros_max: delay_micros_min + rng.range(200, 4_000),
            slow_per_mille: rng.range(0, 30),
            loss_per_mille: rng.range(0, 100),
            duplicate_per_mille: rng.range(0, 30),
        }
    }
}

/// The network: its behaviour and the links currently cut.
#[derive(Clone, Debug)]
pub struct Network {
    pub config: NetworkConfig,
    /// Directed links (from, to) that drop everything, each with the
    /// number of faults that cut it (faults may overlap).
    cut: BTreeMap<(NodeId, NodeId), u32>,
}

impl Network {
    pub fn new(config: NetworkConfig) -> Network {
        Network {
            config,
            cut: BTreeMap::new(),
        }
    }

    /// Cuts every link between `side` and the rest of `all`, both ways;
    /// returns the links cut, for [`Network::restore`].
    pub fn partition(&mut self, side: &[NodeId], all: &[NodeId]) -> Vec<(NodeId, NodeId)> {
        let mut links = Vec::new();
        for &a in side {
            for &b in all.iter().filter(|b| !side.contains(b)) {
                links.push((a, b));
                links.push((b, a));
            }
        }
        for &link in &links {
            *self.cut.entry(link).or_insert(0) += 1;
        }
        links
    }

    /// Cuts the link from `from` to `to` only.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) -> Vec<(NodeId, NodeId)> {
        *self.cut.entry((from, to)).or_insert(0) += 1;
        vec![(from, to)]
    }

    /// Undoes one fault's cuts (a link cut by two faults stays cut until
    /// both end).
    pub fn restore(&mut self, links: &[(NodeId, NodeId)]) {
        for link in links {
            if let Some(count) = self.cut.get_mut(link) {
                *count -= 1;
                if *count == 0 {
                    self.cut.remove(link);
                }
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn is_partitioned(&self) -> bool {
        !self.cut.is_empty()
    }

    pub fn connected(&self, from: NodeId, to: NodeId) -> bool {
        !self.cut.contains_key(&(from, to))
    }

    /// The delays after which copies of a message sent now arrive: none if
    /// it is lost or the link is cut, two if it is duplicated.
    pub fn deliveries(&self, rng: &mut Rng, from: NodeId, to: NodeId) -> Vec<u64> {
        if !self.connected(from, to) || rng.chance(self.config.loss_per_mille) {
            return Vec::new();
        }
        let copies = if rng.chance(self.config.duplicate_per_mille) {
            2
        } else {
            1
        };
        (0..copies).map(|_| self.delay(rng)).collect()
    }

    fn delay(&self, rng: &mut Rng) -> u64 {
        let NetworkConfig {
            delay_micros_min: min,
            delay_micros_max: max,
            ..
        } = self.config;
        if rng.chance(self.config.slow_per_mille) {
            rng.range(max, 10 * max + 1)
        } else {
            rng.range(min, max + 1)
        }
    }
}
