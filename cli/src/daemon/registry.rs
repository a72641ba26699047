//! The pools this daemon owns, by name.
//!
//! Handlers look pools up and work on them without holding the registry's
//! lock, so a long operation on one pool never blocks requests about
//! another. A name being created, imported, exported or destroyed is marked
//! busy for the length of the operation: a second create of the same name,
//! or a status of a pool half exported, gets a clear answer instead of a
//! race.

use std::collections::BTreeMap;

use basin_pool::Pool;
use parking_lot::Mutex;

use super::imported::Imported;

/// Why the registry refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// No pool of that name.
    #[error("no such pool")]
    NoSuchPool,
    /// The name is taken.
    #[error("pool already exists")]
    Exists,
    /// The pool is in the middle of another operation.
    #[error("pool is busy ({0})")]
    Busy(&'static str),
    /// The daemon is stopping.
    #[error("basind is shutting down")]
    ShuttingDown,
}

enum Slot {
    Open(Imported),
    Busy(&'static str),
}

#[derive(Default)]
struct State {
    pools: BTreeMap<String, Slot>,
    closing: bool,
}

/// Name -> open pool (with its dataset layer).
#[derive(Default)]
pub struct Registry {
    state: Mutex<State>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The open pool called `name`.
    pub fn get(&self, name: &str) -> Result<Pool, RegistryError> {
        self.imported(name).map(|i| i.pool)
    }

    /// The open pool called `name` with its dataset layer.
    pub fn imported(&self, name: &str) -> Result<Imported, RegistryError> {
        match self.state.lock().pools.get(name) {
            Some(Slot::Open(p)) => Ok(p.clone()),
            Some(Slot::Busy(why)) => Err(RegistryError::Busy(why)),
            None => Err(RegistryError::NoSuchPool),
        }
    }

    /// Every open pool, by name.
    pub fn pools(&self) -> Vec<Pool> {
        self.all().into_iter().map(|i| i.pool).collect()
    }

    /// Every open pool with its dataset layer, by name.
    pub fn all(&self) -> Vec<Imported> {
        self.state
            .lock()
            .pools
            .values()
            .filter_map(|s| match s {
                Slot::Open(p) => Some(p.clone()),
                Slot::Busy(_) => None,
            })
            .collect()
    }

    /// The name of the open pool with `guid`, if this daemon has it.
    pub fn name_of_guid(&self, guid: u64) -> Option<String> {
        self.state.lock().pools.iter().find_map(|(n, s)| match s {
            Slot::Open(p) if p.pool.guid() == guid => Some(n.clone()),
            _ => None,
        })
    }

    /// Reserves `name` for a pool about to be created or imported; `why`
    /// is what others are told meanwhile ("being created").
    pub fn reserve(&self, name: &str, why: &'static str) -> Result<Reservation<'_>, RegistryError> {
        let mut st = self.state.lock();
        if st.closing {
            return Err(RegistryError::ShuttingDown);
        }
        match st.pools.get(name) {
            Some(Slot::Open(_)) => Err(RegistryError::Exists),
            Some(Slot::Busy(w)) => Err(RegistryError::Busy(w)),
            None => {
                st.pools.insert(name.to_string(), Slot::Busy(why));
                Ok(Reservation {
                    registry: self,
                    name: name.to_string(),
                    done: false,
                })
            }
        }
    }

    /// Takes the pool `name` out for an operation that may remove it
    /// (export, destroy); `why` is what others are told meanwhile.
    pub fn check_out(&self, name: &str, why: &'static str) -> Result<CheckOut<'_>, RegistryError> {
        let mut st = self.state.lock();
        if st.closing {
            return Err(RegistryError::ShuttingDown);
        }
        let slot = st.pools.get_mut(name).ok_or(RegistryError::NoSuchPool)?;
        let pool = match slot {
            Slot::Open(p) => p.clone(),
            Slot::Busy(w) => return Err(RegistryError::Busy(w)),
        };
        *slot = Slot::Busy(why);
        Ok(CheckOut {
            registry: self,
            name: name.to_string(),
            pool: Some(pool),
        })
    }

    /// Refuses every new operation and hands back the open pools, for a
    /// shutdown.
    pub fn close_all(&self) -> Vec<Imported> {
        let mut st = self.state.lock();
        st.closing = true;
        let pools = std::mem::take(&mut st.pools);
        pools
            .into_values()
            .filter_map(|s| match s {
                Slot::Open(p) => Some(p),
                Slot::Busy(_) => None,
            })
            .collect()
    }

    fn set(&self, name: &str, slot: Option<Slot>) {
        let mut st = self.state.lock();
        if st.closing {
            // A shutdown took the map; an operation finishing late must not
            // bring its pool back.
            if let Some(Slot::Open(p)) = slot {
                drop(st);
                let _ = p.close();
            }
            return;
        }
        match slot {
            Some(s) => {
                st.pools.insert(name.to_string(), s);
            }
            None => {
                st.pools.remove(name);
            }
        }
    }
}

/// A name reserved for a pool being created or imported. Dropped without
/// [`Reservation::commit`], it frees the name.
pub struct Reservation<'a> {
    registry: &'a Registry,
    name: String,
    done: bool,
}

impl Reservation<'_> {
    /// Puts the new pool under the reserved name.
    pub fn commit(mut self, pool: Imported) {
        self.done = true;
        self.registry.set(&self.name, Some(Slot::Open(pool)));
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.registry.set(&self.name, None);
        }
    }
}

/// A pool taken out of the registry. Dropped without
/// [`CheckOut::remove`], it goes back.
pub struct CheckOut<'a> {
    registry: &'a Registry,
    name: String,
    pool: Option<Imported>,
}

impl CheckOut<'_> {
    /// The pool.
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref().map(|i| &i.pool)
    }

    /// The pool with its dataset layer.
    pub fn imported(&self) -> Option<&Imported> {
        self.pool.as_ref()
    }

    /// Removes the pool from the registry for good (exported, destroyed).
    pub fn remove(mut self) {
        self.pool = None;
        self.registry.set(&self.name, None);
    }
}

impl Drop for CheckOut<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.pool.take() {
            self.registry.set(&self.name, Some(Slot::Open(p)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::imported::tests::mem_imported;

    #[test]
    fn reservations_and_checkouts() {
        let r = Registry::new();
        assert_eq!(r.get("tank").err(), Some(RegistryError::NoSuchPool));
        let res = r.reserve("tank", "being created").unwrap();
        assert_eq!(
            r.get("tank").err(),
            Some(RegistryError::Busy("being created"))
        );
        assert!(matches!(
            r.reserve("tank", "x"),
            Err(RegistryError::Busy(_))
        ));
        drop(res);
        assert_eq!(r.get("tank").err(), Some(RegistryError::NoSuchPool));

        let pool = mem_imported("tank");
        let guid = pool.pool.guid();
        r.reserve("tank", "being created").unwrap().commit(pool);
        assert_eq!(r.get("tank").unwrap().guid(), guid);
        assert_eq!(r.name_of_guid(guid).as_deref(), Some("tank"));
        assert!(matches!(r.reserve("tank", "x"), Err(RegistryError::Exists)));

        let out = r.check_out("tank", "being exported").unwrap();
        assert!(matches!(
            r.get("tank"),
            Err(RegistryError::Busy("being exported"))
        ));
        drop(out);
        assert!(r.get("tank").is_ok());
        let out = r.check_out("tank", "being exported").unwrap();
        out.imported().unwrap().export().unwrap();
        out.remove();
        assert!(r.pools().is_empty());
    }

    #[test]
    fn close_all_refuses_new_work() {
        let r = Registry::new();
        r.reserve("a", "x").unwrap().commit(mem_imported("a"));
        let late = r.reserve("b", "x").unwrap();
        let pools = r.close_all();
        assert_eq!(pools.len(), 1);
        for p in pools {
            p.close().unwrap();
        }
        assert_eq!(r.reserve("c", "x").err(), Some(RegistryError::ShuttingDown));
        // A create that finishes after the shutdown began is closed, not kept.
        let p = mem_imported("b");
        late.commit(p.clone());
        assert!(p.pool.sync().is_err());
        assert!(r.pools().is_empty());
    }
}
