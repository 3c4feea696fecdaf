// Test helper: what Java itself sees in a keystore. Compiled by the tests into a temporary directory.
//
//   java KeystoreCheck list <file> <jceks|pkcs12> <store password> [alias=key-password ...]
//     one line per entry: alias TAB type TAB algorithm TAB bits TAB sha256(hex)
//     type is secret_key, trusted_certificate or private_key; for a secret key the hash is over the
//     key bytes (only when its key password was given, else "locked"), for a certificate over its DER,
//     for a key pair over its leaf certificate (bits is then the chain length).
//   java KeystoreCheck pbe <password> <salt hex> <iterations> <plaintext hex>
//     SunJCE's PBEWithMD5AndTripleDES encryption of the plaintext, in hex.
//   java KeystoreCheck add-secret <file> <jceks|pkcs12> <store password> <alias> <key password> <key hex>
//     loads the keystore (or starts an empty one when the file does not exist), adds the AES key via
//     the KeyStore API and stores it back.

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.security.Key;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.PBEParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class KeystoreCheck {
    static String hex(byte[] data) {
        StringBuilder sb = new StringBuilder();
        for (byte b : data) sb.append(String.format("%02x", b));
        return sb.toString();
    }

    static byte[] unhex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return out;
    }

    static String sha256(byte[] data) throws Exception {
        return hex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    static KeyStore open(String file, String type, char[] storePass) throws Exception {
        KeyStore ks = KeyStore.getInstance(type.toUpperCase());
        if (new File(file).exists()) {
            try (FileInputStream in = new FileInputStream(file)) { ks.load(in, storePass); }
        } else {
            ks.load(null, storePass);
        }
        return ks;
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "list": list(args); break;
            case "pbe": pbe(args); break;
            case "add-secret": addSecret(args); break;
            default: throw new IllegalArgumentException("unknown command " + args[0]);
        }
    }

    static void list(String[] args) throws Exception {
        KeyStore ks = open(args[1], args[2], args[3].toCharArray());
        Map<String, String> keyPass = new HashMap<>();
        for (int i = 4; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            keyPass.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        for (String alias : Collections.list(ks.aliases())) {
            if (ks.entryInstanceOf(alias, KeyStore.SecretKeyEntry.class)) {
                String pass = keyPass.get(alias);
                if (pass == null) {
                    System.out.println(alias + "\tsecret_key\t-\t-\tlocked");
                    continue;
                }
                Key key = ks.getKey(alias, pass.toCharArray());
                byte[] enc = key.getEncoded();
                System.out.println(alias + "\tsecret_key\t" + key.getAlgorithm() + "\t" + (enc.length * 8) + "\t" + sha256(enc));
            } else if (ks.entryInstanceOf(alias, KeyStore.TrustedCertificateEntry.class)) {
                Certificate cert = ks.getCertificate(alias);
                System.out.println(alias + "\ttrusted_certificate\t" + cert.getType() + "\t-\t" + sha256(cert.getEncoded()));
            } else {
                // A key pair: its chain length, the leaf's fingerprint, and the key algorithm when the
                // password was given (proving the key itself still decrypts).
                Certificate cert = ks.getCertificate(alias);
                String pass = keyPass.get(alias);
                String algorithm = pass == null ? "-" : ks.getKey(alias, pass.toCharArray()).getAlgorithm();
                System.out.println(alias + "\tprivate_key\t" + algorithm + "\t" + ks.getCertificateChain(alias).length + "\t" + sha256(cert.getEncoded()));
            }
        }
    }

    static void pbe(String[] args) throws Exception {
        SecretKey key = SecretKeyFactory.getInstance("PBEWithMD5AndTripleDES")
                .generateSecret(new PBEKeySpec(args[1].toCharArray()));
        Cipher cipher = Cipher.getInstance("PBEWithMD5AndTripleDES");
        cipher.init(Cipher.ENCRYPT_MODE, key, new PBEParameterSpec(unhex(args[2]), Integer.parseInt(args[3])));
        System.out.println(hex(cipher.doFinal(unhex(args[4]))));
    }

    static void addSecret(String[] args) throws Exception {
        char[] storePass = args[3].toCharArray();
        KeyStore ks = open(args[1], args[2], storePass);
        ks.setEntry(args[4], new KeyStore.SecretKeyEntry(new SecretKeySpec(unhex(args[6]), "AES")),
                new KeyStore.PasswordProtection(args[5].toCharArray()));
        try (FileOutputStream out = new FileOutputStream(args[1])) { ks.store(out, storePass); }
    }
}
