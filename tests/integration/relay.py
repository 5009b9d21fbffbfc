"""A TCP relay in front of a real upstream that can hold back what the
upstream sends, to see what Wharf does while a fill waits."""
import socket
import threading


class PausingRelay:
    """Forwards connections to the real upstream; once armed, holds what the
    upstream sends after `after` more bytes until release is set."""

    def __init__(self, target_port, after):
        self.target_port = target_port
        self.after = after
        self.armed = False
        self.paused = threading.Event()
        self.release = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, up, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(up, client, True), daemon=True).start()

    def _pipe(self, src, dst, downstream):
        counted = 0
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if downstream and self.armed:
                    counted += len(data)
                    if counted > self.after and not self.release.is_set():
                        self.paused.set()
                        self.release.wait(30)
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.release.set()
        self.sock.close()
