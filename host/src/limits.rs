//! Rate limits of the preferences pages: token buckets per client address, per link and
//! per "send me my link again" client, kept in memory by each process (a second process
//! behind the same balancer counts on its own), on the host's clock, in bounded memory.
//!
//! A bucket holds up to `count` requests and refills at `count` per `per`, so a client may
//! burst `count` requests and then make one every `per / count`. A request that finds its
//! bucket empty is answered 429 with `Retry-After`: the whole seconds until one request is
//! back. Each limit keeps at most `tracked` buckets; when it is full, buckets that have
//! refilled (which are the same as none) are forgotten first, then the half that will be full
//! soonest, so memory stays bounded whatever addresses and tokens a crowd makes up.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName};

use crate::clock::Clock;

/// At most `count` requests in `per`, refilled evenly. A `count` of 0: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// No limit.
    pub const UNLIMITED: Rate = Rate {
        count: 0,
        per: Duration::from_secs(1),
    };

    /// `count` requests per `seconds`.
    pub const fn per_seconds(count: u32, seconds: u64) -> Rate {
        Rate {
            count,
            per: Duration::from_secs(seconds),
        }
    }

    fn limited(&self) -> bool {
        self.count > 0 && !self.per.is_zero()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.limited() {
            write!(f, "{}/{}s", self.count, self.per.as_secs())
        } else {
            f.write_str("unlimited")
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `COUNT/SECONDS` (e.g. `60/60`), or `0` for no limit.
    fn from_str(text: &str) -> Result<Rate, String> {
        let text = text.trim();
        if text == "0" || text.eq_ignore_ascii_case("unlimited") {
            return Ok(Rate::UNLIMITED);
        }
        let problem = || format!("`{text}` is not a rate: write COUNT/SECONDS, e.g. 60/60, or 0");
        let (count, seconds) = text
            .trim_end_matches('s')
            .split_once('/')
            .ok_or_else(problem)?;
        let count: u32 = count.trim().parse().map_err(|_| problem())?;
        let seconds: u64 = seconds.trim().parse().map_err(|_| problem())?;
        if seconds == 0 || seconds > 86_400 {
            return Err(format!("`{text}`: the period must be 1 to 86400 seconds"));
        }
        Ok(Rate::per_seconds(count, seconds))
    }
}

/// The page's limits; [`PageLimits::default`] limits nothing (an embedder chooses),
/// [`PageLimits::recommended`] is what `serve` uses unless told otherwise.
#[derive(Debug, Clone)]
pub struct PageLimits {
    /// Every request of the pages, per client.
    pub client: Rate,
    /// Refused links (a token that is not genuine, expired, or names nobody), per client:
    /// once spent, every request with a link is refused 429 until it refills.
    pub refused_links: Rate,
    /// Requests with one link (its token), whoever makes them.
    pub link: Rate,
    /// "Send me my link again" requests, per client (the plugin also allows one mail per
    /// address per interval).
    pub link_mail: Rate,
    /// The header a trusted reverse proxy puts the client's address in (e.g.
    /// `x-forwarded-for`, its last entry; or `forwarded`, its last `for=`). None: the
    /// connection's address is the client's, and such headers are ignored.
    pub forwarded_header: Option<HeaderName>,
    /// Buckets kept per limit (memory: about 64 bytes each).
    pub tracked: usize,
    /// The clock the buckets refill by.
    pub clock: Clock,
}

impl Default for PageLimits {
    fn default() -> PageLimits {
        PageLimits {
            client: Rate::UNLIMITED,
            refused_links: Rate::UNLIMITED,
            link: Rate::UNLIMITED,
            link_mail: Rate::UNLIMITED,
            forwarded_header: None,
            tracked: 100_000,
            clock: Clock::system(),
        }
    }
}

impl PageLimits {
    /// The limits `serve` applies by default: 300 requests a minute per client (a busy
    /// office behind one address included), 20 refused links per 10 minutes per client (a
    /// person mistyping a link a few times is never stopped; guessing tokens is), 60
    /// requests a minute per link, 5 link mails an hour per client.
    pub fn recommended() -> PageLimits {
        PageLimits {
            client: Rate::per_seconds(300, 60),
            refused_links: Rate::per_seconds(20, 600),
            link: Rate::per_seconds(60, 60),
            link_mail: Rate::per_seconds(5, 3600),
            ..PageLimits::default()
        }
    }

    /// The client's address: the connection's, or the trusted proxy's header's when one is
    /// configured and present; IPv4-mapped IPv6 as IPv4.
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let forwarded = self.forwarded_header.as_ref().and_then(|name| {
            let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
            forwarded_address(name, value)
        });
        forwarded
            .or(peer.map(|peer| peer.ip()))
            .map(|address| address.to_canonical())
    }
}

/// What a client is counted as: its IPv4 address, or its IPv6 address's /64 (one
/// subscriber's network, whose other addresses are free for the taking).
pub(crate) fn counted(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
        v4 => v4,
    }
}

/// The last address of a forwarding header's value.
fn forwarded_address(name: &HeaderName, value: &str) -> Option<IpAddr> {
    let last = value.rsplit(',').next()?.trim();
    let address = if name.as_str().eq_ignore_ascii_case("forwarded") {
        // RFC 7239: `for=192.0.2.60;proto=http`, `for="[2001:db8::1]:4711"`.
        last.split(';')
            .find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then_some(value.trim())
            })?
            .trim_matches('"')
    } else {
        last
    };
    address
        .parse::<IpAddr>()
        .ok()
        .or_else(|| address.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| {
            address
                .trim_start_matches('[')
                .split(']')
                .next()?
                .parse()
                .ok()
        })
}

/// Whole seconds until a request is allowed again (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// One limit's buckets, keyed by a keyed hash of what they count (an address, a token).
pub(crate) struct Buckets {
    rate: Rate,
    tracked: usize,
    hasher: RandomState,
    buckets: Mutex<HashMap<u64, Bucket>>,
}

/// A bucket as the generic cell rate algorithm keeps it: the time at which it will be full
/// again, in "scaled" time (milliseconds times the rate's count), in which one request
/// refills in exactly `per` milliseconds, so every sum is exact in integers.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    full_at: i128,
}

impl Buckets {
    pub(crate) fn new(rate: Rate, tracked: usize) -> Buckets {
        Buckets {
            rate,
            tracked: tracked.max(2),
            hasher: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how long until there is one.
    pub(crate) fn take(&self, key: impl Hash, now: i64) -> Result<(), RetryAfter> {
        self.spend(key, now, true, true)
    }

    /// Whether `key`'s bucket has a request left, taking none.
    pub(crate) fn check(&self, key: impl Hash, now: i64) -> Result<(), RetryAfter> {
        self.spend(key, now, false, true)
    }

    /// Takes one request from `key`'s bucket even when that empties it (a refusal already
    /// answered is counted, never refused again).
    pub(crate) fn charge(&self, key: impl Hash, now: i64) {
        // Refused or not, the request was counted.
        let _counted = self.spend(key, now, true, false);
    }

    fn spend(&self, key: impl Hash, now: i64, take: bool, refuse: bool) -> Result<(), RetryAfter> {
        if !self.rate.limited() {
            return Ok(());
        }
        let count = i128::from(self.rate.count);
        // One request, and the whole bucket, in scaled time.
        let one = i128::try_from(self.rate.per.as_millis()).unwrap_or(i128::MAX / 4);
        let capacity = one * count;
        let now_scaled = i128::from(now) * count;
        let key = self.hasher.hash_one(key);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(&key) && buckets.len() >= self.tracked {
            self.evict(&mut buckets, now_scaled);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            full_at: now_scaled,
        });
        let from = bucket.full_at.max(now_scaled);
        // Taking one more makes the bucket full at `from + one`; allowed while that is
        // within the capacity from now.
        let overdrawn = from + one - now_scaled - capacity;
        if overdrawn <= 0 {
            if take {
                bucket.full_at = from + one;
            }
            return Ok(());
        }
        if !refuse {
            if take {
                bucket.full_at = now_scaled + capacity;
            }
            return Ok(());
        }
        // Scaled time until one request is back, in whole seconds.
        let wait_ms = (overdrawn + count - 1) / count;
        let seconds = u64::try_from((wait_ms + 999) / 1000).unwrap_or(u64::MAX);
        Err(RetryAfter(seconds.max(1)))
    }

    /// Forgets the buckets that are full again (which are the same as none), then, if that
    /// is not enough, the half that will be full soonest.
    fn evict(&self, buckets: &mut HashMap<u64, Bucket>, now_scaled: i128) {
        buckets.retain(|_, bucket| bucket.full_at > now_scaled);
        if buckets.len() >= self.tracked {
            let mut times: Vec<i128> = buckets.values().map(|bucket| bucket.full_at).collect();
            let middle = times.len() / 2;
            let (_, median, _) = times.select_nth_unstable(middle);
            let median = *median;
            buckets.retain(|_, bucket| bucket.full_at > median);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets
            .lock()
            .map(|buckets| buckets.len())
            .unwrap_or(0)
    }
}

/// Every limit's buckets, for one process.
pub(crate) struct Limiter {
    pub(crate) limits: PageLimits,
    pub(crate) client: Buckets,
    pub(crate) refused_links: Buckets,
    pub(crate) link: Buckets,
    pub(crate) link_mail: Buckets,
}

impl Limiter {
    pub(crate) fn new(limits: PageLimits) -> Limiter {
        let buckets = |rate| Buckets::new(rate, limits.tracked);
        Limiter {
            client: buckets(limits.client),
            refused_links: buckets(limits.refused_links),
            link: buckets(limits.link),
            link_mail: buckets(limits.link_mail),
            limits,
        }
    }

    /// Now, on the limits' clock.
    pub(crate) fn now(&self) -> i64 {
        self.limits.clock.now_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_bucket_allows_its_burst_then_says_when_to_retry_and_refills_over_time() {
        let buckets = Buckets::new(Rate::per_seconds(3, 60), 100);
        for _ in 0..3 {
            assert_eq!(buckets.take("a", 0), Ok(()));
        }
        assert_eq!(buckets.take("a", 0), Err(RetryAfter(20)));
        assert_eq!(
            buckets.take("b", 0),
            Ok(()),
            "another key has its own bucket"
        );
        assert_eq!(buckets.take("a", 19_999), Err(RetryAfter(1)));
        assert_eq!(buckets.take("a", 20_000), Ok(()));
        assert_eq!(buckets.check("a", 20_000), Err(RetryAfter(20)));
        buckets.charge("a", 20_000);
        assert_eq!(buckets.take("a", 80_000), Ok(()));
        // Refilled a millisecond at a time, a bucket gains what it gains at once.
        let often = Buckets::new(Rate::per_seconds(5, 60), 100);
        for _ in 0..5 {
            often.take("a", 0).unwrap();
        }
        for now in 1..12_000 {
            assert!(often.check("a", now).is_err(), "{now}");
        }
        assert_eq!(often.take("a", 12_000), Ok(()));
        let unlimited = Buckets::new(Rate::UNLIMITED, 100);
        assert!((0..1000).all(|_| unlimited.take("a", 0).is_ok()));
    }

    #[test]
    fn memory_stays_bounded_whatever_keys_arrive_and_idle_buckets_go_first() {
        let buckets = Buckets::new(Rate::per_seconds(2, 60), 1000);
        buckets.take("busy", 0).unwrap();
        buckets.take("busy", 0).unwrap();
        for key in 0..10_000_u32 {
            buckets.take(key, i64::from(key)).unwrap();
            assert!(buckets.len() <= 1000);
        }
        let refilled = Buckets::new(Rate::per_seconds(1, 1), 10);
        for key in 0..10_u32 {
            refilled.take(key, 0).unwrap();
        }
        refilled.take("late", 5_000).unwrap();
        assert_eq!(refilled.len(), 1, "every refilled bucket was forgotten");
    }

    #[test]
    fn the_client_is_the_connection_unless_a_trusted_proxy_header_is_configured() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.7, 203.0.113.9"),
        );
        headers.insert(
            "forwarded",
            HeaderValue::from_static("for=192.0.2.1, for=\"[2001:db8:1:2:3::4]:4711\";proto=https"),
        );
        let limits = PageLimits::default();
        assert_eq!(limits.client(Some(peer), &headers), Some(peer.ip()));
        let behind = |name: &'static str| PageLimits {
            forwarded_header: Some(HeaderName::from_static(name)),
            ..PageLimits::default()
        };
        assert_eq!(
            behind("x-forwarded-for").client(Some(peer), &headers),
            Some("203.0.113.9".parse().unwrap()),
            "the proxy's own entry, not what the client wrote before it"
        );
        let v6 = behind("forwarded").client(Some(peer), &headers).unwrap();
        assert_eq!(v6, "2001:db8:1:2:3::4".parse::<IpAddr>().unwrap());
        assert_eq!(
            counted(v6),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap(),
            "an IPv6 client counts by its /64"
        );
        assert_eq!(
            behind("x-real-ip").client(Some(peer), &headers),
            Some(peer.ip()),
            "without the header, the connection's"
        );
    }

    #[test]
    fn rates_are_read_as_count_per_seconds() {
        assert_eq!("60/60".parse(), Ok(Rate::per_seconds(60, 60)));
        assert_eq!("5/3600s".parse(), Ok(Rate::per_seconds(5, 3600)));
        assert_eq!("0".parse(), Ok(Rate::UNLIMITED));
        for wrong in ["60", "a/60", "60/0", "-1/60", ""] {
            let problem = wrong.parse::<Rate>().unwrap_err();
            assert!(problem.contains(wrong), "{problem}");
        }
        assert_eq!(Rate::per_seconds(20, 600).to_string(), "20/600s");
    }
}
