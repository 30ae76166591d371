// fleetbench's replacement for src/queue.js of postgres.js 3.4.9, installed over it (and over
// cjs/src/queue.js and cf/src/queue.js) by src/patch-postgres.mjs, the root postinstall script.
//
// Why: 3.4.9's queue blanks the slot shift() takes but only drops its array once the queue runs
// empty, and its remove() searches that array from slot 0. The pool keeps its connections in such
// queues; when more queries are in flight than the pool has connections, they never run empty,
// so every remove() walks an ever longer run of dead slots. 50 loops sharing a 10-connection pool
// fell from 28k to 7.4k queries/s within 35 s (porsager/postgres#747 describes it).
//
// Here remove() searches only the live part, and the dead prefix is cut once it is half of the
// array: a cut moves at most as many items as shifts happened since the last one, so shift()
// stays amortised O(1) and the array at most twice the queue's longest length.
export default Queue

function Queue(initial = []) {
  // items[0, head) are dead slots (cleared, so shifted values can be collected);
  // items[head, items.length) is the queue, oldest first.
  const items = initial.slice()
  let head = 0

  function dropDead() {
    if (head === items.length) {
      items.length = 0
      head = 0
    } else if (head * 2 >= items.length) {
      items.copyWithin(0, head)
      items.length -= head
      head = 0
    }
  }

  return {
    get length() {
      return items.length - head
    },
    remove(x) {
      const at = items.indexOf(x, head)
      if (at === -1)
        return null
      if (at === head) {
        items[head++] = undefined
        dropDead()
      } else {
        items.copyWithin(at, at + 1)
        items.length -= 1
      }
      return x
    },
    push(x) {
      items.push(x)
      return x
    },
    shift() {
      if (head === items.length)
        return undefined
      const x = items[head]
      items[head++] = undefined
      dropDead()
      return x
    }
  }
}
