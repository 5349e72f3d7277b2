import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * Seconds left until a deadline, ticking once a second. Kept as a deadline rather than a
 * decrementing counter so a tab that was asleep shows the right time when it wakes.
 */
export function useCountdown(): [number, (seconds: number) => void] {
  const [deadline, setDeadline] = useState<number | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const timer = useRef<number | null>(null);

  useEffect(() => {
    if (deadline === null) return;
    timer.current = window.setInterval(() => {
      const n = Date.now();
      setNow(n);
      if (n >= deadline) {
        setDeadline(null);
      }
    }, 250);
    return () => {
      if (timer.current !== null) window.clearInterval(timer.current);
    };
  }, [deadline]);

  const start = useCallback((seconds: number) => {
    setNow(Date.now());
    setDeadline(Date.now() + seconds * 1000);
  }, []);

  const left = deadline === null ? 0 : Math.max(0, Math.ceil((deadline - now) / 1000));
  return [left, start];
}
