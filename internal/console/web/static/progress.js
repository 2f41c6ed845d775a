// Follows a running backfill on a source's page: while the block says it
// runs, its server-rendered progress replaces it every second (live.js).

import { follow } from './live.js';

const box = document.getElementById('backfill');
if (box) follow(box, `${window.location.pathname}/progress`);
