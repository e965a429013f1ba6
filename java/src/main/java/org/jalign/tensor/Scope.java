package org.jalign.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Closes every tensor allocated on this thread while it is open, in reverse order of allocation:
 * <pre>{@code
 * try (Scope scope = Scope.open()) {
 *   Tensor a = backend.zeros(DType.F32, 4, 8);   // closed when the scope closes
 *   Tensor keep = scope.detach(backend.zeros(DType.F32, 8)); // outlives the scope
 * }
 * }</pre>
 * Scopes nest; a tensor belongs to the innermost open scope of the thread that allocated it.
 * Native memory is never left to the garbage collector.
 */
public final class Scope implements AutoCloseable {
  private static final ThreadLocal<Deque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

  private final List<AutoCloseable> owned = new ArrayList<>();
  private final Thread thread = Thread.currentThread();
  private boolean closed;

  private Scope() {}

  /** Opens a scope on the current thread. */
  public static Scope open() {
    Scope s = new Scope();
    STACK.get().push(s);
    return s;
  }

  /** The innermost open scope of this thread, or null. */
  static Scope current() {
    Deque<Scope> d = STACK.get();
    return d.isEmpty() ? null : d.peek();
  }

  static void register(AutoCloseable c) {
    Scope s = current();
    if (s != null) s.owned.add(c);
  }

  /** Removes {@code t} from this scope so it outlives it; the caller must close it. Returns {@code t}. */
  public <T extends AutoCloseable> T detach(T t) {
    owned.remove(t);
    return t;
  }

  /** Number of resources this scope will close. */
  public int size() {
    return owned.size();
  }

  @Override
  public void close() {
    if (closed) return;
    if (Thread.currentThread() != thread) {
      throw new IllegalStateException("a Scope must be closed on the thread that opened it");
    }
    closed = true;
    Deque<Scope> d = STACK.get();
    d.remove(this);
    RuntimeException first = null;
    for (int i = owned.size() - 1; i >= 0; i--) {
      try {
        owned.get(i).close();
      } catch (Exception e) {
        if (first == null) first = new IllegalStateException("closing a scoped resource failed", e);
      }
    }
    owned.clear();
    if (first != null) throw first;
  }
}
