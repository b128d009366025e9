//! actix's header map as the proxy's header rules read and write one
//! ([`Headers`]): the rules run on the request's own map, with no copy.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::proxy::headers::Headers;

impl Headers for HeaderMap {
    fn with_capacity(capacity: usize) -> Self {
        HeaderMap::with_capacity(capacity)
    }

    fn entry_count(&self) -> usize {
        self.len()
    }

    fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.get(name)
    }

    fn get_all(&self, name: &str) -> impl Iterator<Item = &HeaderValue> {
        self.get_all(name)
    }

    fn entries(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.iter()
    }

    fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        self.insert(name, value);
    }

    fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.append(name, value);
    }

    fn remove(&mut self, name: &str) {
        self.remove(name);
    }
}
