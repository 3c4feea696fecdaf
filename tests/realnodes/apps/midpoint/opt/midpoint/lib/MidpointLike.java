// A member of the midPoint-like cluster (NOT Evolveum midPoint): only what the midpoint_cluster example relies on.
// Run from source by the JRE (`java MidpointLike.java`): Debian's openjdk-17-jre-headless carries the jdk.compiler
// module that compiles a single-file program in memory, so the image needs no javac and no build step.
//
// At start it opens the keystore as midPoint's protector does (KeyStore "JCEKS", the store password from
// MP_SET_midpoint_keystore_keyStorePassword_FILE, the secret key recovered with midPoint's fixed key password) and
// refuses to start (exit 1, the reason on stderr) when the store does not open or the key is missing; derives its
// node id from the host name (MP_SET_midpoint_nodeIdSource=hostname: the pod name in a StatefulSet); then answers
// HTTP on 8080: /midpoint/actuator/health (the example's readiness probe) and /midpoint/ (its node id and keystore).
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.SecretKey;

public class MidpointLike {
    // midPoint's KeyStoreBasedProtectorImpl recovers its keys with this fixed password (hence the guide's
    // `keytool -keypass midpoint` and the example's midpoint_key_password).
    static final char[] KEY_PASSWORD = "midpoint".toCharArray();
    static final int PORT = 8080;

    public static void main(String[] args) throws Exception {
        String nodeIdSource = System.getenv().getOrDefault("MP_SET_midpoint_nodeIdSource", "hostname");
        if (!nodeIdSource.equals("hostname")) {
            refuse("MP_SET_midpoint_nodeIdSource=" + nodeIdSource + ": this test application derives node ids from the host name only");
        }
        // The kernel's host name as it is (the pod name), not a name service's answer for it.
        String nodeId = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        String keystore;
        try {
            keystore = openKeystore();
        } catch (Exception problem) {
            refuse("cannot open the keystore: " + problem);
            return;
        }
        String page = "{\"nodeId\": \"" + nodeId + "\", \"nodeIdSource\": \"hostname\", \"keystore\": " + keystore + "}\n";
        System.out.println("midpoint-like: node id " + nodeId + " (from the host name)");
        System.out.println("midpoint-like: keystore " + keystore);
        HttpServer server = HttpServer.create(new InetSocketAddress(PORT), 16);
        server.createContext("/midpoint/actuator/health", exchange -> answer(exchange, "{\"status\": \"UP\"}\n"));
        server.createContext("/midpoint/", exchange -> answer(exchange, page));
        server.start();
        System.out.println("midpoint-like: answering HTTP on " + PORT);
    }

    static String openKeystore() throws Exception {
        Path path = Path.of(required("MP_SET_midpoint_keystore_keyStorePath"));
        String passwordFile = required("MP_SET_midpoint_keystore_keyStorePassword_FILE");
        // As midpoint.sh reads a *_FILE value: the file's content without its trailing newline.
        char[] storePassword = Files.readString(Path.of(passwordFile)).stripTrailing().toCharArray();
        String alias = System.getenv().getOrDefault("MP_SET_midpoint_keystore_encryptionKeyAlias", "default");
        KeyStore store = KeyStore.getInstance("JCEKS");
        try (InputStream in = Files.newInputStream(path)) {
            store.load(in, storePassword);
        }
        Key key = store.getKey(alias, KEY_PASSWORD);
        if (!(key instanceof SecretKey)) {
            throw new IllegalStateException("no secret key '" + alias + "' in " + path);
        }
        // midPoint names the key of encrypted data by this digest (SHA-1 of the key, Base64): members that share
        // the keystore report the same one, and it changes only when the key does.
        String keyDigest = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1").digest(key.getEncoded()));
        List<String> certificates = new ArrayList<>();
        for (String entry : Collections.list(store.aliases())) {
            if (store.isCertificateEntry(entry)) {
                X509Certificate certificate = (X509Certificate) store.getCertificate(entry);
                String sha256 = HexFormat.ofDelimiter(":").withUpperCase()
                        .formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
                certificates.add("{\"alias\": \"" + entry + "\", \"subject\": \"" + certificate.getSubjectX500Principal().getName()
                        + "\", \"sha256\": \"" + sha256 + "\"}");
            }
        }
        Collections.sort(certificates);
        return "{\"path\": \"" + path + "\", \"type\": \"" + store.getType() + "\", \"secretKey\": {\"alias\": \"" + alias
                + "\", \"algorithm\": \"" + key.getAlgorithm() + "\", \"bits\": " + key.getEncoded().length * 8
                + ", \"digest\": \"" + keyDigest + "\"}, \"trustedCertificates\": [" + String.join(", ", certificates) + "]}";
    }

    static String required(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            refuse(name + " is not set");
        }
        return value;
    }

    static void refuse(String reason) {
        System.err.println("midpoint-like: refusing to start: " + reason);
        System.exit(1);
    }

    static void answer(HttpExchange exchange, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
