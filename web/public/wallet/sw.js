// The wallet's service worker: the app shell opens without a network (installable PWA), while
// everything about money goes to the network, always. Only GETs of the wallet's own pages and
// Vite's hashed assets are cached; /api/ and /config.json never are.
const cacheName = 'mpay-wallet-v1';

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(cacheName)
      .then((cache) => cache.addAll(['/wallet/']))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((name) => name !== cacheName).map((name) => caches.delete(name))),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/assets/')) {
    // Hashed names never change content: the cache first, the network once.
    event.respondWith(
      caches.match(request).then(
        (cached) =>
          cached ??
          fetch(request).then((response) => {
            if (response.ok) {
              const copy = response.clone();
              caches.open(cacheName).then((cache) => cache.put(request, copy));
            }
            return response;
          }),
      ),
    );
    return;
  }
  if (url.pathname === '/wallet/' || url.pathname === '/wallet/index.html') {
    // The page from the network when there is one (a new release), else the last copy.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(cacheName).then((cache) => cache.put('/wallet/', copy));
          }
          return response;
        })
        .catch(() => caches.match('/wallet/').then((cached) => cached ?? Response.error())),
    );
  }
});
