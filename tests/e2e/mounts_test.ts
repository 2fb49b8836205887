/**
 * File systems without OS file events: `/proc/mounts` read as pure text,
 * and a real FUSE mount (bindfs) on which devsrv polls by itself and sees a
 * change made beneath the mount, where no event arrives.
 *
 * @module
 */

import assert from "node:assert/strict";
import { eventlessMount, mountOf, parseMounts } from "../../src/watch/mounts.ts";
import {
  appSource,
  DevsrvProcess,
  fetchText,
  missingOutsideCi,
  waitFor,
  withTempDir,
} from "../_harness/devsrv.ts";

const MOUNTS = parseMounts(
  [
    "/dev/vda / ext4 rw,relatime 0 0",
    "proc /proc proc rw 0 0",
    "nas:/export /srv/nas nfs4 rw 0 0",
    "//files/share /srv/smb cifs rw 0 0",
    "C:\\134 /mnt/c 9p rw,noatime,aname=drvfs 0 0",
    "D: /mnt/d drvfs rw 0 0",
    "me@host:/code /home/me/remote\\040code fuse.sshfs rw 0 0",
    "/dev/sdb1 /media/usb fuseblk rw 0 0",
    "tmpfs /srv/nas/cache tmpfs rw 0 0",
    "overlay /var/lib/docker/x overlay rw 0 0",
    "",
  ].join("\n"),
);

Deno.test("parseMounts() reads /proc/mounts, escapes included", () => {
  assert.equal(MOUNTS.length, 10);
  assert.deepEqual(MOUNTS[4], { source: "C:\\134", point: "/mnt/c", type: "9p" });
  assert.equal(MOUNTS[6]!.point, "/home/me/remote code");
});

Deno.test("mountOf() picks the longest mount point that contains the path", () => {
  assert.equal(mountOf("/srv/nas/app", MOUNTS)?.type, "nfs4");
  assert.equal(mountOf("/srv/nas/cache/x", MOUNTS)?.type, "tmpfs");
  assert.equal(mountOf("/srv/nasty", MOUNTS)?.type, "ext4", "a prefix is not a folder");
  assert.equal(mountOf("/srv/nas", MOUNTS)?.type, "nfs4");
});

Deno.test("eventlessMount() knows network, FUSE and WSL file systems", () => {
  const eventless = ["/srv/nas/a", "/srv/smb/a", "/mnt/c/a", "/mnt/d/a", "/home/me/remote code/a"];
  for (const path of eventless) assert.ok(eventlessMount(path, MOUNTS), path);
  assert.equal(eventlessMount("/media/usb/a", MOUNTS)?.type, "fuseblk");
  for (const path of ["/home/me/app", "/srv/nas/cache/a", "/var/lib/docker/x/app"]) {
    assert.equal(eventlessMount(path, MOUNTS), undefined, path);
  }
});

function hasFuseDevice(): boolean {
  try {
    return Deno.statSync("/dev/fuse").isCharDevice === true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * bindfs mounts a folder through FUSE (`.ci/run` installs it); mounting
 * needs the machine's /dev/fuse, which a container may not have.
 */
const NO_FUSE = missingOutsideCi("bindfs") || !hasFuseDevice();

Deno.test({
  name: "devsrv polls by itself on a FUSE mount, and sees a change made beneath it",
  ignore: NO_FUSE,
  async fn() {
    await withTempDir({ "src/app.ts": appSource("v1"), "mnt/.keep": "" }, async (dir) => {
      await Deno.remove(`${dir}/mnt/.keep`);
      const mount = await new Deno.Command("bindfs", { args: [`${dir}/src`, `${dir}/mnt`] })
        .output();
      assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
      try {
        const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], {
          cwd: `${dir}/mnt`,
          env: { DEVSRV_INTERVAL: "50" },
        });
        try {
          await server.waitForOutput(
            /^ \* \. is on a fuse file system \(.+\/mnt\), where file events do not arrive · polling every 50 ms/m,
          );
          await server.waitForOutput(/watching \. \(poll, 1 file/);
          const url = await server.url();
          await waitFor("v1", async () => (await fetchText(url)).body === "v1");
          // Written beneath the mount: no event reaches the mount, only polling sees it.
          await Deno.writeTextFile(`${dir}/src/app.ts`, appSource("v2"));
          await waitFor("v2", async () => (await fetchText(url)).body === "v2");
        } finally {
          assert.equal((await server.stop()).code, 0, server.output);
        }
      } finally {
        const unmount = await new Deno.Command("fusermount", { args: ["-u", `${dir}/mnt`] })
          .output();
        assert.ok(unmount.success, new TextDecoder().decode(unmount.stderr));
      }
    });
  },
});
