import { describe, expect, it } from 'vitest';
import { deserializeError, EngineError, serializeError, throwIfCancelled } from '../src/engine/errors';
import { Lanes } from '../src/engine/lanes';
import { IMMEDIATE, transferablesOf } from '../src/engine/protocol';

describe('errors across the worker boundary', () => {
  it('keep their class, message and code', () => {
    const back = deserializeError(serializeError(new EngineError('storage is full', 'quota')));
    expect(back).toBeInstanceOf(EngineError);
    expect(back.message).toBe('storage is full');
    expect(back.code).toBe('quota');
  });
  it('map an AbortError to cancelled and anything else to the fallback code', () => {
    expect(serializeError(new DOMException('stop', 'AbortError')).code).toBe('cancelled');
    expect(serializeError(new TypeError('bug'))).toEqual({ error: 'bug', code: 'internal' });
    expect(serializeError('odd', 'device-lost')).toEqual({ error: 'odd', code: 'device-lost' });
  });
  it('cancel once the signal fired', () => {
    const c = new AbortController();
    expect(() => throwIfCancelled(c.signal, 'x')).not.toThrow();
    c.abort();
    expect(() => throwIfCancelled(c.signal, 'the load')).toThrow(/the load was cancelled/);
  });
});

describe('protocol', () => {
  it('moves bitmaps only, and answers test holds outside the queue', () => {
    expect(transferablesOf([{ objectId: 1 }, null])).toEqual([]);
    expect(transferablesOf(new Blob(['x']))).toEqual([]);
    expect(IMMEDIATE.has('holdDecodes')).toBe(true);
    expect(IMMEDIATE.has('decode')).toBe(false);
  });
});

/** A job that finishes when told to. */
function gate<T>(value: T) {
  let open: () => void = () => {};
  const opened = new Promise<void>((r) => {
    open = r;
  });
  const ran: string[] = [];
  return {
    run: (name: string) => async () => {
      ran.push(name);
      await opened;
      return value;
    },
    open,
    ran,
  };
}

describe('decode lanes', () => {
  it('keep the latest waiting request per lane; the superseded one resolves to null', async () => {
    const lanes = new Lanes<number>();
    const g = gate(1);
    const first = lanes.submit('preview', g.run('a'));
    const second = lanes.submit('preview', async () => 2);
    const third = lanes.submit('preview', async () => 3);
    expect(lanes.pending).toBe(1);
    g.open();
    expect(await Promise.all([first, second, third])).toEqual([1, null, 3]);
  });

  it('never let a preview displace a click in another lane', async () => {
    const lanes = new Lanes<string>();
    const g = gate('preview 1');
    const preview = lanes.submit('preview', g.run('p'));
    const click = lanes.submit('object:1', async () => 'click');
    const preview2 = lanes.submit('preview', async () => 'preview 2');
    expect(await click).toBe('click');
    g.open();
    expect(await Promise.all([preview, preview2])).toEqual(['preview 1', 'preview 2']);
  });

  it('pass errors on and carry on with the next request', async () => {
    const lanes = new Lanes<number>();
    const failing = lanes.submit('a', async () => {
      throw new EngineError('no image', 'state');
    });
    const next = lanes.submit('a', async () => 7);
    await expect(failing).rejects.toThrow('no image');
    expect(await next).toBe(7);
  });

  it('drop waiting requests on clear', async () => {
    const lanes = new Lanes<number>();
    const g = gate(1);
    const running = lanes.submit('a', g.run('a'));
    const waiting = lanes.submit('a', async () => 2);
    lanes.clear();
    g.open();
    expect(await Promise.all([running, waiting])).toEqual([1, null]);
  });
});

describe('decode lanes, in order', () => {
  it('start the waiting request after the caller handled the running one, newest first', async () => {
    const lanes = new Lanes<string>();
    const seen: string[] = [];
    const g = gate('a');
    const a = lanes.submit('x', g.run('a')).then((r) => {
      seen.push(`handled ${r}`);
      lanes.submit('x', async () => 'c').then((c) => seen.push(`handled ${c}`)); // replaces b in the gap
      return r;
    });
    const b = lanes.submit('x', async () => {
      seen.push('b started');
      return 'b';
    });
    g.open();
    await a;
    expect(await b).toBeNull();
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(['handled a', 'handled c']);
  });
});
